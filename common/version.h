/* version.h -- faultline's version, as `faultline version`, the admin API's /version and
 * /healthz, /metrics' faultline_info and each run's meta report it. */
#ifndef FL_VERSION_H
#define FL_VERSION_H
#define FAULTLINE_VERSION "0.1.0"
#endif
