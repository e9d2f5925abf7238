"""A counting SMTP server on loopback (aiosmtpd, Debian's python3-aiosmtpd):
counts the messages that arrive per recipient. Shared by the kill -9 and the
shared-job tests. Run with /usr/bin/python3 (Debian's, which has aiosmtpd)."""
import collections
import socket
import threading

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.per_recipient = collections.Counter()
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.per_recipient[rcpt] += 1
            self.messages += 1
        return "250 OK queued"

    def total(self):
        with self.lock:
            return self.messages

    def snapshot(self):
        with self.lock:
            return dict(self.per_recipient)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server():
    counter = Counter()
    port = free_port()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    return counter, controller, port


def write_list(path, n):
    with open(path, "w") as f:
        f.write("id,email,first_name\n")
        for i in range(n):
            f.write(f"{i},user{i}@example.org,User{i}\n")
