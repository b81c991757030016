"""The ServiceAccount controller: every active namespace has a ``default`` ServiceAccount.

It is created when a namespace appears and re-created if someone deletes it; namespaces being
deleted are left alone (the namespace lifecycle is emptying them).
"""

from __future__ import annotations

from typing import Any, Final

from kybernetes.api import errors
from kybernetes.client.informer import Handler
from kybernetes.client.resource import NAMESPACES, SERVICEACCOUNTS
from kybernetes.controllers.base import ControllerContext, QueueController

Obj = dict[str, Any]
DEFAULT_ACCOUNTS: Final = ("default",)


class ServiceAccountsController(QueueController):
    name = "serviceaccount"

    def __init__(self, context: ControllerContext) -> None:
        super().__init__(context)
        factory = context.informers
        self.namespaces = self.informer(factory.informer(NAMESPACES))
        self.accounts = self.informer(factory.informer(SERVICEACCOUNTS))
        self.namespaces.add_handler(Handler(self.enqueue, lambda _old, new: self.enqueue(new)))
        self.accounts.add_handler(Handler(on_delete=self._account_deleted))

    def _account_deleted(self, account: Obj) -> None:
        if account["metadata"]["name"] in DEFAULT_ACCOUNTS:
            self.queue.add(account["metadata"]["namespace"])

    async def sync(self, key: str) -> None:
        namespace = self.namespaces.store.get(key)
        if namespace is None or namespace["metadata"].get("deletionTimestamp"):
            return
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            return
        for name in DEFAULT_ACCOUNTS:
            if self.accounts.store.get_by_name(name, key) is not None:
                continue
            account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
            try:
                await self.client.create(SERVICEACCOUNTS, account, key)
            except errors.AlreadyExists:
                continue
            except errors.Forbidden:
                return  # the namespace started terminating meanwhile
