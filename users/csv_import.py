"""Parse a users CSV upload (pure: bytes in, rows and their problems out).

Columns (header row, any order, case-insensitive): email (required), first_name, last_name,
password, temporary_password (yes/no), require_pin (yes/no). Problems of the file as a whole
(encoding, header, unknown columns) are `ParsedCsv.errors`; a row's own (a yes/no that is
neither) stay on the row, so that they are listed with whatever else is wrong with it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

MAX_ROWS = 50_000
TRUE = {"1", "yes", "true", "y", "x"}
FALSE = {"", "0", "no", "false", "n"}
COLUMNS = {"email", "first_name", "last_name", "password", "temporary_password", "require_pin"}


@dataclass
class UserRow:
    line: int
    email: str
    first_name: str = ""
    last_name: str = ""
    password: str = ""
    temporary_password: bool = False
    require_pin: bool = False
    problems: list[str] = field(default_factory=list)  # "line 3: ..." found while parsing


@dataclass
class ParsedCsv:
    rows: list[UserRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the file's own problems (user-facing)


def _flag(value: str, line: int, column: str, errors: list[str]) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered not in FALSE:
        errors.append(f"line {line}: {column} must be yes or no, not {value!r}")
    return False


def parse_users_csv(data: bytes) -> ParsedCsv:
    result = ParsedCsv()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append("The file is not UTF-8 text.")
        return result
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
    except csv.Error as exc:
        result.errors.append(f"The file is not valid CSV: {exc}")
        return result
    if "email" not in header:
        result.errors.append("The first line must name the columns, including 'email'.")
        return result
    unknown = set(header) - COLUMNS
    if unknown:  # reported; the rows are still read, so that their problems are listed too
        result.errors.append(f"Unknown columns: {', '.join(sorted(unknown))}.")
    reader.fieldnames = header
    try:
        for record in reader:
            line = reader.line_num
            if len(result.rows) >= MAX_ROWS:
                result.errors.append(f"More than {MAX_ROWS} rows; split the file.")
                break
            values = {key: (value or "").strip() for key, value in record.items() if key}
            if not any(values.values()):
                continue
            problems: list[str] = []
            result.rows.append(UserRow(
                line=line, email=values.get("email", ""),
                first_name=values.get("first_name", ""), last_name=values.get("last_name", ""),
                password=(record.get("password") or ""),
                temporary_password=_flag(values.get("temporary_password", ""), line,
                                         "temporary_password", problems),
                require_pin=_flag(values.get("require_pin", ""), line, "require_pin",
                                  problems),
                problems=problems,
            ))
    except csv.Error as exc:
        result.errors.append(f"line {reader.line_num}: not valid CSV ({exc})")
    return result
