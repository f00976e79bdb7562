"""Publish log records on a PUB socket (pyzmq's zmq.log.handlers).

PUBHandler sends each record as two frames, [topic, text]. The topic is the handler's
root_topic (if any), the level name, and a subtopic taken from the message itself when it
reads "sub.topic::the message", joined with dots: b"myapp.INFO.db". Subscribers pick what
they want by prefix. The text comes from a per-level formatter (`formatters`), so DEBUG
records carry file and line while INFO ones carry just the message. TopicLogger is a Logger
whose methods take the subtopic as an argument.

No I/O of its own: emit() is one non-blocking-in-practice send_multipart (PUB never blocks).
A record that cannot be formatted goes to logging's handleError, as with any handler.
"""
import copy
import logging

import gzmq

TOPIC_DELIM = "::"  # separates an in-message subtopic from the message

_DETAILED = "%(levelname)s %(filename)s:%(lineno)d - %(message)s\n"


class PUBHandler(logging.Handler):
    """A logging handler that publishes records on a PUB socket.

    interface_or_socket: a PUB socket (already bound or connected), or an endpoint to bind a
    new PUB socket of `context` (a new Context if None) to.
    """

    def __init__(self, interface_or_socket, context=None, root_topic=""):
        super().__init__()
        self.root_topic = root_topic
        self.formatters = {
            logging.DEBUG: logging.Formatter(_DETAILED),
            logging.INFO: logging.Formatter("%(message)s\n"),
            logging.WARNING: logging.Formatter(_DETAILED),
            logging.ERROR: logging.Formatter(
                "%(levelname)s %(filename)s:%(lineno)d - %(message)s - %(exc_info)s\n"),
            logging.CRITICAL: logging.Formatter(_DETAILED),
        }
        if isinstance(interface_or_socket, gzmq.Socket):
            self.socket = interface_or_socket
            self.ctx = self.socket.context
        else:
            self.ctx = context or gzmq.Context()
            self.socket = self.ctx.socket(gzmq.PUB)
            self.socket.bind(interface_or_socket)

    @property
    def root_topic(self):
        return self._root_topic

    @root_topic.setter
    def root_topic(self, value):
        self.setRootTopic(value)

    def setRootTopic(self, root_topic):
        """Set the topic every published record starts with ("" for none; bytes are decoded)."""
        if isinstance(root_topic, bytes):
            root_topic = root_topic.decode("utf-8")
        self._root_topic = root_topic

    def setFormatter(self, fmt, level=logging.NOTSET):
        """Use `fmt` for records of `level`, or for every level if NOTSET."""
        if level == logging.NOTSET:
            for known in list(self.formatters):
                self.formatters[known] = fmt
        else:
            self.formatters[level] = fmt

    def format(self, record):
        fmt = self.formatters.get(record.levelno)
        if fmt is None:
            # A custom level: the formatter of the nearest standard level below it.
            below = [lvl for lvl in self.formatters if lvl <= record.levelno and self.formatters[lvl]]
            fmt = self.formatters[max(below)] if below else (self.formatter or logging.Formatter())
        return fmt.format(record)

    def emit(self, record):
        """Publish [topic, formatted text] on the socket."""
        subtopic = ""
        text = str(record.msg)   # logging allows any object with a str()
        if TOPIC_DELIM in text:
            subtopic, text = text.split(TOPIC_DELIM, 1)
            record = copy.copy(record)   # the record is shared with the other handlers
            record.msg = text
        try:
            body = self.format(record).encode("utf-8")
        except Exception:
            self.handleError(record)
            return
        parts = [p for p in (self.root_topic, record.levelname, subtopic) if p]
        self.socket.send_multipart([".".join(parts).encode("utf-8", "replace"), body])


class TopicLogger(logging.Logger):
    """A Logger whose methods take a subtopic: log.info("db.slow", "query took %ds", 3)."""

    def log(self, level, topic, msg, *args, **kwargs):
        super().log(level, f"{topic}{TOPIC_DELIM}{msg}", *args, **kwargs)

    def debug(self, topic, msg, *args, **kwargs):
        self.log(logging.DEBUG, topic, msg, *args, **kwargs)

    def info(self, topic, msg, *args, **kwargs):
        self.log(logging.INFO, topic, msg, *args, **kwargs)

    def warning(self, topic, msg, *args, **kwargs):
        self.log(logging.WARNING, topic, msg, *args, **kwargs)

    warn = warning  # type: ignore[assignment]  # pyzmq's PUBHandler takes a topic first

    def error(self, topic, msg, *args, **kwargs):
        self.log(logging.ERROR, topic, msg, *args, **kwargs)

    def critical(self, topic, msg, *args, **kwargs):
        self.log(logging.CRITICAL, topic, msg, *args, **kwargs)

    fatal = critical  # type: ignore[assignment]
