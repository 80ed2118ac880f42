#!/usr/bin/env python3
"""pngstat.py PNG -- prints `width=W height=H colors=N ink=F bytes=B` for an 8-bit PNG
(greyscale, RGB, RGBA; not interlaced), using only the standard library: colors is the number of
distinct pixel values (capped at 100000), ink the fraction of pixels that differ from the most
common one (the background). The report screenshot test asserts on these: a blank or broken
render is one colour with no ink. Exit 2 when the file is not a PNG it can read."""
import struct, sys, zlib
from collections import Counter

def main(path):
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        sys.exit("not a PNG")
    pos, idat, w = 8, b'', 0
    while pos < len(data):
        n, typ = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b'IHDR':
            w, h, depth, ctype, _, _, inter = struct.unpack('>IIBBBBB', body)
            if depth != 8 or inter or ctype not in (0, 2, 6):
                print("unsupported PNG (depth %d, colour type %d, interlace %d)" % (depth, ctype, inter)); sys.exit(2)
            bpp = {0: 1, 2: 3, 6: 4}[ctype]
        elif typ == b'IDAT':
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    counts = Counter()
    i = 0
    for _ in range(h):
        f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        counts.update(bytes(line[k:k + bpp]) for k in range(0, stride, bpp * 2))   # every 2nd pixel
        prev = line
    total = sum(counts.values())
    bg = counts.most_common(1)[0][1]
    print("width=%d height=%d colors=%d ink=%.4f bytes=%d" % (w, h, min(len(counts), 100000), (total - bg) / total, len(data)))

main(sys.argv[1])
