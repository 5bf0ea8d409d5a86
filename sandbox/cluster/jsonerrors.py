"""Go's `encoding/json` syntax-error texts, for bodies the sandbox apiserver cannot parse.

The real apiserver puts Go's error text into its 400 BadRequest message
(`invalid character 'x' looking for beginning of value`); Python's `json` words
errors differently, so this module re-scans a body that failed to parse and
names the first error the way Go's scanner does. Pure function.
"""

from __future__ import annotations

_WS = b" \t\r\n"


class _Syntax(Exception):
    pass


def _quote(c: int) -> str:
    """Go's `quoteChar`."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    ch = chr(c)
    if ch == "\\":
        return "'\\\\'"
    if 0x20 <= c < 0x7F:
        return f"'{ch}'"
    if c == 0x0A:
        return "'\\n'"
    if c == 0x09:
        return "'\\t'"
    if c == 0x0D:
        return "'\\r'"
    return f"'\\x{c:02x}'"


class _Scanner:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def skip(self) -> int | None:
        while self.pos < len(self.data) and self.data[self.pos] in _WS:
            self.pos += 1
        return self.peek()

    def fail(self, c: int | None, context: str) -> _Syntax:
        if c is None:
            return _Syntax("unexpected end of JSON input")
        return _Syntax(f"invalid character {_quote(c)} {context}")

    def value(self) -> None:
        c = self.skip()
        if c == ord("{"):
            self.pos += 1
            self.obj()
        elif c == ord("["):
            self.pos += 1
            self.arr()
        elif c == ord('"'):
            self.pos += 1
            self.string()
        elif c is not None and (c == ord("-") or ord("0") <= c <= ord("9")):
            self.number()
        elif c in (ord("t"), ord("f"), ord("n")):
            self.literal()
        else:
            raise self.fail(c, "looking for beginning of value")

    def obj(self) -> None:
        c = self.skip()
        if c == ord("}"):
            self.pos += 1
            return
        while True:
            c = self.skip()
            if c != ord('"'):
                raise self.fail(c, "looking for beginning of object key string")
            self.pos += 1
            self.string()
            c = self.skip()
            if c != ord(":"):
                raise self.fail(c, "after object key")
            self.pos += 1
            self.value()
            c = self.skip()
            if c == ord(","):
                self.pos += 1
                continue
            if c == ord("}"):
                self.pos += 1
                return
            raise self.fail(c, "after object key:value pair")

    def arr(self) -> None:
        c = self.skip()
        if c == ord("]"):
            self.pos += 1
            return
        while True:
            self.value()
            c = self.skip()
            if c == ord(","):
                self.pos += 1
                continue
            if c == ord("]"):
                self.pos += 1
                return
            raise self.fail(c, "after array element")

    def string(self) -> None:
        while True:
            c = self.peek()
            if c is None:
                raise self.fail(None, "")
            self.pos += 1
            if c == ord('"'):
                return
            if c < 0x20:
                raise self.fail(c, "in string literal")
            if c == ord("\\"):
                e = self.peek()
                if e is None:
                    raise self.fail(None, "")
                self.pos += 1
                if e == ord("u"):
                    for _ in range(4):
                        h = self.peek()
                        if h is None:
                            raise self.fail(None, "")
                        if chr(h) not in "0123456789abcdefABCDEF":
                            raise self.fail(h, "in \\u hexadecimal character escape")
                        self.pos += 1
                elif chr(e) not in '"\\/bfnrt':
                    raise self.fail(e, "in string escape code")

    def number(self) -> None:
        def digits() -> int:
            start = self.pos
            while (c := self.peek()) is not None and ord("0") <= c <= ord("9"):
                self.pos += 1
            return self.pos - start

        if self.peek() == ord("-"):
            self.pos += 1
            if digits() == 0:
                raise self.fail(self.peek(), "in numeric literal")
        elif self.peek() == ord("0"):
            self.pos += 1
        else:
            digits()
        if self.peek() == ord("."):
            self.pos += 1
            if digits() == 0:
                raise self.fail(self.peek(), "after decimal point in numeric literal")
        if self.peek() in (ord("e"), ord("E")):
            self.pos += 1
            if self.peek() in (ord("+"), ord("-")):
                self.pos += 1
            if digits() == 0:
                raise self.fail(self.peek(), "in exponent of numeric literal")

    def literal(self) -> None:
        word = {ord("t"): "true", ord("f"): "false", ord("n"): "null"}[self.data[self.pos]]
        for expected in word:
            c = self.peek()
            if c != ord(expected):
                raise self.fail(c, f"in literal {word} (expecting {_quote(ord(expected))})")
            self.pos += 1


def go_json_error(data: bytes) -> str:
    """The message Go's `json.Unmarshal` gives for `data` ("" when it is valid JSON)."""
    scanner = _Scanner(data)
    try:
        scanner.value()
        c = scanner.skip()
        if c is not None:
            raise scanner.fail(c, "after top-level value")
    except _Syntax as error:
        return str(error)
    return ""
