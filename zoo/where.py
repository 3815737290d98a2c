"""The ``--where`` language of ``zoo list models``: a small filter over catalog columns.

    params < 10M and pretrained
    (top1 >= 80 or gmacs < 1.5G) and not license = 'cc-by-nc-4.0'
    name ~ 'resnet*' and res >= 224

- a comparison is ``COLUMN OP VALUE`` with OP one of ``< <= > >= = != ~`` (``==`` is ``=``);
- ``~`` is a glob (``*``, ``?``, ``[abc]``) on a text column; without a '/' it also matches the
  part of a namespaced name after it (``resnet*`` matches ``timm/resnet18``, as ``zoo list``'s
  pattern does); ``=``, ``!=`` and ``~`` ignore case;
- values are numbers with an optional unit (``K`` 10^3, ``M`` 10^6, ``G`` 10^9, ``T`` 10^12,
  ``%`` nothing: ``top1 > 80%``; a column kept in a unit of its own converts: ``gmacs < 1.5G``
  and ``gmacs < 1.5`` are alike), quoted strings (``'mit'`` or ``"mit"``), ``true``, ``false``;
- a column alone is true when its value is known (a true/false column: when it is true);
- ``and`` binds tighter than ``or``; ``not`` negates; parentheses group;
- an unknown value (a figure no one published or computed) makes every comparison false.

The expression is read by the tokenizer and recursive-descent parser below into Python
closures; it is never evaluated as Python. A mistake is a ``zoo.UserError`` that names what is
wrong and where (the 1-based character position).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from zoo.errors import UserError
from zoo.registry import name_matches

NUMBER, TEXT, BOOL = "number", "text", "true/false"
UNITS = {"k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "%": 1.0}
KEYWORDS = ("and", "or", "not", "true", "false")
COMPARISONS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
               "=": operator.eq, "==": operator.eq, "!=": operator.ne, "~": None}
TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?P<unit>[A-Za-z_%][A-Za-z0-9_]*|%)?
  | (?P<string>'[^']*'|"[^"]*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<|>|=|~)
  | (?P<paren>[()])
""", re.VERBOSE)

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, word, op, paren, end
    value: Any
    position: int  # 1-based
    text: str
    unit: float = 1.0  # a number's unit (M: 1e6), already applied to ``value``

    @property
    def shown(self) -> str:
        """The token as a message names it: ``'params'``, or ``the end``."""
        return "the end" if self.kind == "end" else repr(self.text)


class WhereError(UserError):
    """A mistake in a ``--where`` expression."""


def tokenize(expression: str) -> list:
    """The tokens of ``expression``, ending with an ``end`` token; ``WhereError`` at a character
    no token starts with, an unclosed quote or a number with an unknown unit."""
    tokens, at = [], 0
    while at < len(expression):
        match = TOKEN_RE.match(expression, at)
        if match is None:
            quote = expression[at] in "'\""
            what = "an unclosed quote" if quote else f"unexpected character {expression[at]!r}"
            raise WhereError(f"--where: {what} at position {at + 1} of {expression!r}")
        kind = match.lastgroup if match.lastgroup != "unit" else "number"
        text = match.group(0)
        if match.group("number") is not None:
            unit = match.group("unit")
            if unit is not None and unit.lower() not in UNITS:
                raise WhereError(f"--where: unknown unit {unit!r} in {text!r} at position {at + 1} of {expression!r}; "
                                 f"units: K (10^3), M (10^6), G (10^9), T (10^12), % (none)")
            scale = UNITS[(unit or "%").lower()]
            tokens.append(Token("number", float(match.group("number")) * scale, at + 1, text, scale))
        elif kind == "string":
            tokens.append(Token("string", text[1:-1], at + 1, text))
        elif kind != "space":
            tokens.append(Token(kind, text, at + 1, text))
        at = match.end()
    tokens.append(Token("end", None, len(expression) + 1, "the end"))
    return tokens


class Parser:
    """Recursive descent over ``tokenize``'s tokens, building a predicate on rows.

    ``columns``: ``{name: NUMBER | TEXT | BOOL}``; a row maps each name to a value of that type
    or None (unknown). ``scales``: for a number column kept in a unit of its own (GMACs in
    billions: 1e9), that unit; a number written with a unit is converted to it (``1.5G`` is 1.5
    there), one without is taken as it is.
    """

    def __init__(self, expression: str, columns: Mapping[str, str], scales: Optional[Mapping[str, float]] = None):
        self.expression, self.columns, self.scales = expression, dict(columns), dict(scales or {})
        self.tokens, self.at = tokenize(expression), 0
        self.used: set = set()  # the columns the expression names

    def fail(self, token: Token, message: str, after: str = "") -> None:
        raise WhereError(f"--where: {message} at position {token.position} of {self.expression!r}{after}")

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.value.lower() == word

    def parse(self) -> Predicate:
        if self.peek().kind == "end":
            self.fail(self.peek(), "an empty expression (e.g. 'params < 10M and pretrained')")
        predicate = self.disjunction()
        if self.peek().kind != "end":
            self.fail(self.peek(), f"expected 'and', 'or' or the end, got {self.peek().shown}")
        return predicate

    def joined(self, word: str, operand: Callable[[], Predicate], combine: Callable) -> Predicate:
        """``operand (word operand)*``: one predicate, the terms combined with ``combine`` (any, all)."""
        terms = [operand()]
        while self.is_word(word):
            self.take()
            terms.append(operand())
        return terms[0] if len(terms) == 1 else (lambda row: combine(t(row) for t in terms))

    def disjunction(self) -> Predicate:
        return self.joined("or", self.conjunction, any)

    def conjunction(self) -> Predicate:
        return self.joined("and", self.negation, all)

    def negation(self) -> Predicate:
        if self.is_word("not"):
            self.take()
            inner = self.negation()
            return lambda row: not inner(row)
        return self.primary()

    def primary(self) -> Predicate:
        token = self.take()
        if token.kind == "paren" and token.value == "(":
            inner = self.disjunction()
            closing = self.take()
            if closing.kind != "paren" or closing.value != ")":
                self.fail(closing, f"expected ')' to close the '(' at position {token.position}, got {closing.shown}")
            return inner
        if token.kind != "word" or token.value.lower() in KEYWORDS:
            self.fail(token, f"expected a column name, got {token.shown}")
        column = self.column(token)
        if self.peek().kind != "op":
            return self.known(column)
        op = self.take()
        value = self.value(column, op)
        return self.comparison(column, op, value)

    def column(self, token: Token) -> str:
        name = token.value.lower()
        self.used.add(name)
        if name not in self.columns:
            import difflib

            close = difflib.get_close_matches(name, list(self.columns), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.fail(token, f"unknown column {token.value!r}{hint}",
                      f"; columns: {', '.join(self.columns)}; a string is quoted: '{token.value}'")
        return name

    def value(self, column: str, op: Token) -> Any:
        token = self.take()
        kind = self.columns[column]
        if token.kind == "number":
            value, found = token.value, NUMBER
            if token.unit != 1.0 and column in self.scales:
                value = token.value / self.scales[column]
        elif token.kind == "string":
            value, found = token.value, TEXT
        elif token.kind == "word" and token.value.lower() in ("true", "false"):
            value, found = token.value.lower() == "true", BOOL
        elif token.kind == "word" and token.value.lower() not in KEYWORDS and kind == BOOL:
            self.fail(token, f"{column} is true or false: write {column} = true (or false), not {token.text}")
        elif token.kind == "word" and token.value.lower() not in KEYWORDS:
            self.fail(token, f"{token.text!r} after {column} {op.text} is not a value", f"; a string is quoted: "
                                                                                       f"'{token.text}'")
        else:
            self.fail(token, f"expected a value after {column} {op.text}, got {token.shown}")
        if found != kind:
            hint = f" (write {column} = true, or false)" if kind == BOOL else ""
            self.fail(token, f"{column} holds {kind} values; {token.text} is a {found} value{hint}")
        if op.value == "~" and kind != TEXT:
            self.fail(op, f"'~' (a glob) applies to text columns; {column} holds {kind} values")
        if kind == BOOL and op.value not in ("=", "==", "!="):
            self.fail(op, f"{column} is true or false: compare it with = or !=")
        return value

    @staticmethod
    def known(column: str) -> Predicate:
        return lambda row: (value := row.get(column)) is not None and value is not False and value != ""

    def comparison(self, column: str, op: Token, value: Any) -> Predicate:
        kind = self.columns[column]
        if op.value == "~":
            pattern = str(value).lower()
            return lambda row: (v := row.get(column)) is not None and name_matches(str(v).lower(), pattern)
        compare = COMPARISONS[op.value]
        if kind == TEXT and op.value in ("=", "==", "!="):
            value = value.lower()
            return lambda row: (v := row.get(column)) is not None and compare(str(v).lower(), value)
        return lambda row: (v := row.get(column)) is not None and compare(v, value)


def compile_where(expression: Optional[str], columns: Mapping[str, str],
                  scales: Optional[Mapping[str, float]] = None) -> tuple:
    """``(predicate, names)``: the predicate ``expression`` (see the module docstring) describes,
    over rows with ``columns`` (``{name: NUMBER | TEXT | BOOL}``; ``scales``: see ``Parser``),
    and the column names it reads;
    ``(None, set())`` when ``expression`` is None. Raises ``WhereError`` (a ``zoo.UserError``)
    naming the mistake and its position."""
    if expression is None:
        return None, set()
    parser = Parser(expression, columns, scales)
    return parser.parse(), parser.used
