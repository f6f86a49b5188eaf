"""Accounts in :class:`~kirin_api.store.sql.SqlTaskStore`: their API keys and access-key pairs,
their money and their limits (a mixin, as :mod:`.uploads`; the statements are :mod:`.accounts`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from decimal import Decimal

from sqlalchemy import Connection

from kirin_api.contract.ids import ulid
from kirin_api.store import accounts
from kirin_api.store.base import AccessKeyPair, Account, ApiKey, StoreError
from kirin_api.store.fast_reads import FastReads

# How much of an access key `kirin keys list` shows (the access key is not a secret, but a
# listing need not hand it out whole).
ACCESS_KEY_SHOWN = 8


class AccountsMixin:
    """Needs the store's ``_write``, ``_read``, ``_fast_read`` and ``_clock``."""

    _write: Callable[[], AbstractContextManager[Connection]]
    _read: Callable[[], AbstractContextManager[Connection]]
    _fast_read: Callable[[], AbstractContextManager[FastReads]]
    _clock: Callable[[], float]

    # --- accounts and keys ---------------------------------------------------------------

    def ensure_account(self, name: str) -> Account:
        with self._write() as conn:
            accounts.insert_account_if_absent(conn, "acct_" + ulid(), name, self._clock())
            account = accounts.select_account_by_name(conn, name)
        if account is None:  # pragma: no cover - inserted or kept in the same transaction
            raise StoreError(f"account {name!r} vanished")
        return account

    def create_api_key(
        self,
        account_id: str,
        name: str,
        key_hash: str,
        prefix: str,
        *,
        access_key: str | None = None,
        sealed_secret: str | None = None,
    ) -> ApiKey:
        with self._write() as conn:
            return accounts.insert_api_key(
                conn,
                key_id="key_" + ulid(),
                account_id=account_id,
                name=name,
                key_hash=key_hash,
                prefix=prefix,
                now=self._clock(),
                access_key=access_key,
                sealed_secret=sealed_secret,
            )

    def account_for_key(self, key_hash: str) -> Account | None:
        with self._fast_read() as reads:
            return accounts.read_account_for_key_hash(reads, key_hash)

    def create_access_key(
        self, account_id: str, name: str, access_key: str, sealed_secret: str, key_hash: str
    ) -> ApiKey:
        return self.create_api_key(
            account_id,
            name,
            key_hash,
            access_key[:ACCESS_KEY_SHOWN],
            access_key=access_key,
            sealed_secret=sealed_secret,
        )

    def access_key_pair(self, access_key: str) -> AccessKeyPair | None:
        with self._fast_read() as reads:
            return accounts.read_access_key_pair(reads, access_key)

    def reseal_access_keys(self, reseal: Callable[[str, str], str]) -> int:
        with self._write() as conn:
            sealed = accounts.select_sealed_secrets(conn)
            for key_id, access_key, secret in sealed:
                accounts.update_sealed_secret(conn, key_id, reseal(access_key, secret))
        return len(sealed)

    def list_api_keys(self, account_id: str | None = None) -> list[ApiKey]:
        with self._read() as conn:
            return accounts.select_api_keys(conn, account_id)

    def revoke_api_key(self, key_id_or_prefix: str) -> ApiKey | None:
        """Revoke by id or by prefix; None if no such key. A prefix that several keys share is
        refused with :class:`StoreError` (name the key by its id then)."""
        with self._write() as conn:
            keys = accounts.select_api_keys_by_id_or_prefix(conn, key_id_or_prefix)
            if not keys:
                return None
            if len(keys) > 1:
                raise StoreError(
                    f"{len(keys)} keys have the prefix {key_id_or_prefix!r}; revoke one by its id"
                )
            return accounts.revoke_api_key(conn, keys[0].id, self._clock())

    # --- accounts: money and limits ------------------------------------------------------

    def get_account(self, name: str) -> Account | None:
        with self._read() as conn:
            return accounts.select_account_by_name(conn, name)

    def list_accounts(self) -> list[Account]:
        with self._read() as conn:
            return accounts.select_accounts(conn)

    def set_balance(self, account_id: str, balance: Decimal | None) -> Account:
        with self._write() as conn:
            account = self._account(conn, account_id, lock=True)
            accounts.update_account_money(
                conn,
                account_id,
                balance=None if balance is None else str(balance),
                reserved=account.reserved,
            )
            return self._account(conn, account_id)

    def top_up(self, account_id: str, amount: Decimal) -> Account:
        if amount <= 0:
            raise ValueError(f"a top-up must be positive, got {amount}")
        with self._write() as conn:
            account = self._account(conn, account_id, lock=True)
            if account.balance is None:
                raise StoreError(f"account {account.name} is unlimited; set a balance first")
            accounts.update_account_money(
                conn,
                account_id,
                balance=str(Decimal(account.balance) + amount),
                reserved=account.reserved,
            )
            return self._account(conn, account_id)

    def set_max_unfinished(self, account_id: str, limit: int | None) -> Account:
        with self._write() as conn:
            self._account(conn, account_id, lock=True)
            accounts.update_account_limit(conn, account_id, limit)
            return self._account(conn, account_id)

    @staticmethod
    def _account(conn: Connection, account_id: str, *, lock: bool = False) -> Account:
        account = accounts.select_account_by_id(conn, account_id, lock=lock)
        if account is None:
            raise StoreError(f"no account {account_id}")
        return account
