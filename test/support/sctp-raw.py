#!/usr/bin/env python3
"""SCTP packets by hand, over a raw IPv4 socket (this kernel has no SCTP module, so no real
SCTP socket is possible): enough of an association's opening to load-balance.

  sctp-raw.py init DST PORT SPORT TAG [TIMEOUT]
      sends an INIT (initiate tag TAG) from SPORT to DST:PORT and prints, as one JSON line,
      the first SCTP packet that comes back from DST:PORT to SPORT:
      {"from", "sport", "dport", "vtag", "chunk", "flags", "crc_ok"} or {"timeout": true}
  sctp-raw.py serve NAME
      answers every INIT with an INIT-ACK (its verification tag the INIT's initiate tag, NAME
      in its state cookie) and prints one JSON line per INIT: {"from", "to", "sport", "dport", "tag"}
"""
import json
import select
import socket
import struct
import sys
import time

IPPROTO_SCTP = 132
INIT, INIT_ACK = 1, 2


def crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def packet(sport, dport, vtag, chunks):
    body = struct.pack('!HHII', sport, dport, vtag, 0) + chunks
    return body[:8] + struct.pack('<I', crc32c(body)) + body[12:]


def chunk(ctype, flags, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack('!BBH', ctype, flags, 4 + len(value)) + value + b'\0' * pad


def parse(data):
    """An IPv4 packet as a raw socket hands it over: (src, dst, sport, dport, vtag, first chunk type, flags, value, crc ok)."""
    ihl = (data[0] & 0x0F) * 4
    src, dst = socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
    sctp = data[ihl:]
    if len(sctp) < 16:
        return None
    sport, dport, vtag, crc = struct.unpack('!HHII', sctp[:12])
    ctype, flags, clen = struct.unpack('!BBH', sctp[12:16])
    zeroed = sctp[:8] + b'\0\0\0\0' + sctp[12:]
    crc_ok = struct.unpack('<I', sctp[8:12])[0] == crc32c(zeroed)
    return src, dst, sport, dport, vtag, ctype, flags, sctp[16:12 + clen], crc_ok


def init(dst, port, sport, tag, timeout=3.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
    # initiate tag, a_rwnd, outbound streams, inbound streams, initial TSN
    s.sendto(packet(sport, port, 0, chunk(INIT, 0, struct.pack('!IIHHI', tag, 65536, 10, 10, tag))), (dst, 0))
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([s], [], [], max(0.0, end - time.time()))
        if not r:
            break
        p = parse(s.recv(65535))
        if p and p[0] == dst and p[2] == port and p[3] == sport:
            src, _, sp, dp, vtag, ctype, flags, _, crc_ok = p
            print(json.dumps({'from': src, 'sport': sp, 'dport': dp, 'vtag': vtag, 'chunk': ctype, 'flags': flags, 'crc_ok': crc_ok}), flush=True)
            return
    print(json.dumps({'timeout': True}), flush=True)


def serve(name):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_SCTP)
    print(json.dumps({'listening': name}), flush=True)
    while True:
        p = parse(s.recv(65535))
        if not p or p[5] != INIT or len(p[7]) < 16:
            continue
        src, dst, sport, dport, _, _, _, value, _ = p
        tag = struct.unpack('!I', value[:4])[0]
        print(json.dumps({'from': src, 'to': dst, 'sport': sport, 'dport': dport, 'tag': tag}), flush=True)
        cookie = struct.pack('!HH', 7, 4 + len(name.encode())) + name.encode()  # State Cookie parameter
        ack = chunk(INIT_ACK, 0, struct.pack('!IIHHI', 0x5EED0000 | (tag & 0xFFFF), 65536, 10, 10, 1) + cookie + b'\0' * ((4 - len(cookie) % 4) % 4))
        s.sendto(packet(dport, sport, tag, ack), (src, 0))


if __name__ == '__main__':
    if sys.argv[1] == 'init':
        init(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]) if len(sys.argv) > 6 else 3.0)
    else:
        serve(sys.argv[2])
