"""Staff accounts: a YAML file of names and Argon2id hashes, and the command to manage it.

    python -m bot.staff.accounts add USERNAME [--name 表示名]   (asks for the password)
    python -m bot.staff.accounts list
    python -m bot.staff.accounts remove USERNAME

The file (``STAFF_DIR``/accounts.yaml, default var/staff/) is configuration, kept out of
the repository and readable by its owner only. Argon2id (argon2-cffi) salts every hash
itself. The web app reads the file at each login, so an added or removed account counts
at once; a removed account's open sessions stop working at their next request.
"""
from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from bot.config import load_settings

MIN_PASSWORD_CHARS = 12
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
_HASHER = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Checked against when the user does not exist, so a wrong name costs as much time
    as a wrong password and does not reveal which names exist (made on first need)."""
    return _HASHER.hash("not a password of anyone")


@dataclass(frozen=True)
class Account:
    username: str
    name: str
    password_hash: str


class AccountError(ValueError):
    """An account that cannot be created as asked; the message says why."""


def load_accounts(path: Path) -> Dict[str, Account]:
    """All accounts in the file; none when it does not exist yet."""
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {username: Account(username, entry.get("name") or username, entry["password_hash"])
            for username, entry in (data.get("accounts") or {}).items()}


def save_accounts(path: Path, accounts: Dict[str, Account]) -> None:
    """Write the file atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"accounts": {a.username: {"name": a.name, "password_hash": a.password_hash}
                         for a in sorted(accounts.values(), key=lambda a: a.username)}}
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write("# Staff accounts of the assist tool: python -m bot.staff.accounts\n")
        yaml.safe_dump(data, handle, allow_unicode=True)
    os.replace(temporary, path)


def add_account(path: Path, username: str, password: str, name: Optional[str] = None) -> Account:
    """Create or replace an account (replacing is how a password is reset)."""
    if not USERNAME.match(username):
        raise AccountError("username: 2–32 of a-z 0-9 . _ -, starting with a letter or digit")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    accounts = load_accounts(path)
    account = Account(username, name or username, _HASHER.hash(password))
    accounts[username] = account
    save_accounts(path, accounts)
    return account


def remove_account(path: Path, username: str) -> bool:
    accounts = load_accounts(path)
    if accounts.pop(username, None) is None:
        return False
    save_accounts(path, accounts)
    return True


def verify(path: Path, username: str, password: str) -> Optional[Account]:
    """The account when the password is right; None otherwise (same cost either way)."""
    account = load_accounts(path).get(username)
    try:
        _HASHER.verify(account.password_hash if account else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    return account


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.staff.accounts",
                                     description="Manage staff accounts of the assist tool.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account or set a new password")
    add.add_argument("username")
    add.add_argument("--name", help="name shown in the tool and the audit log")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (for scripts)")
    commands.add_parser("list", help="list the accounts")
    remove = commands.add_parser("remove", help="remove an account")
    remove.add_argument("username")
    args = parser.parse_args(argv)
    path = load_settings().staff_accounts_file
    if args.command == "list":
        for account in load_accounts(path).values():
            print(f"{account.username}\t{account.name}")
        return 0
    if args.command == "remove":
        if not remove_account(path, args.username):
            print(f"no account {args.username!r} in {path}", file=sys.stderr)
            return 1
        print(f"removed {args.username}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 1
    try:
        add_account(path, args.username, password, args.name)
    except AccountError as problem:
        print(problem, file=sys.stderr)
        return 1
    print(f"account {args.username} saved in {path}; log in at /staff/login")
    return 0


if __name__ == "__main__":
    sys.exit(main())
