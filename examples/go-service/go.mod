module faultline.example/go-service

go 1.19
