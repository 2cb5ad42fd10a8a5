#!/usr/bin/env python3
"""Test HTTP server for the TUF client CLI tests (stdlib only, 127.0.0.1).

server.py --root DIR --log FILE --port-file FILE [--slow URLPATH] [--endless URLPATH]...

Serves files under DIR by their raw URL path (no percent-decoding, so a file
named "1.hw%2Fa.json" is served for that path), logs "STATUS PATH" per request
to FILE, writes its port to --port-file. --slow: that path is sent at one byte
per second; --endless (repeatable): that path never ends (no Content-Length).
"""
import argparse
import http.server
import os
import time

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--port-file", required=True)
ap.add_argument("--slow")
ap.add_argument("--endless", action="append", default=[])
args = ap.parse_args()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def note(self, status):
        with open(args.log, "a") as f:
            f.write(f"{status} {self.path}\n")

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        try:
            if path in args.endless:
                self.note(200)
                self.send_response(200)
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"x" * 65536
                while True:
                    self.wfile.write(chunk)
            full = os.path.join(args.root, path.lstrip("/"))
            if ".." in path.split("/") or not os.path.isfile(full):
                self.note(404)
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = open(full, "rb").read()
            self.note(200)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if path == args.slow:
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(1)
            else:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(args.port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(args.port_file + ".tmp", args.port_file)
srv.serve_forever()
