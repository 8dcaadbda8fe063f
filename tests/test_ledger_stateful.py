"""The ledger under random use: a Hypothesis state machine posts, reserves, resolves,
reverses, retries and closes periods, and after every step checks the invariants.

At least 2,000 steps run by default (SIB_STATEFUL_STEPS raises it): after every step total
debits equal total credits (posted and pending), maintained balances equal the balances
recomputed from the postings, no balance limit is broken, and a refused operation changed
nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from datetime import date, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moneyed import Money
from sqlalchemy import func, select
from sqlmodel import Session

from api.db import make_engine, upgrade
from ledger.entries import EntryDraft, PostingDraft
from ledger.errors import SibError
from ledger.schema import Account, AccountBalance, Entry, Posting
from ledger.periods import close_period
from ledger.service import (AccountSpec, create_book, open_account, post_entry, post_pending,
                            reverse_entry, void_pending)
from ledger.verify import verify

STEPS = int(os.environ.get("SIB_STATEFUL_STEPS", "2000"))
STEP_COUNT = 50
ACCOUNTS = ["cash", "loan", "fees", "income", "escrow"]
LIMITED = {"cash": "credits", "escrow": "debits"}

# One migrated template database, copied for each example (migrations are slow to repeat).
_TEMPLATE = tempfile.mkdtemp(prefix="sib-stateful-")
_TEMPLATE_DB = os.path.join(_TEMPLATE, "template.db")
upgrade(f"sqlite:///{_TEMPLATE_DB}")


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="sib-sm-")
        path = os.path.join(self.dir, "sm.db")
        with open(_TEMPLATE_DB, "rb") as src, open(path, "wb") as dst:
            dst.write(src.read())
        self.engine = make_engine(f"sqlite:///{path}")
        self.session = Session(self.engine, expire_on_commit=False)
        create_book(self.session, "b", "JPY")
        for code in ACCOUNTS:
            open_account(self.session, "b", AccountSpec(
                code, "asset" if code in ("cash", "fees") else "liability",
                opened_on=date(2019, 4, 1),
                credits_must_not_exceed_debits=LIMITED.get(code) == "credits",
                debits_must_not_exceed_credits=LIMITED.get(code) == "debits"))
        self.session.commit()
        self.keys: dict[str, EntryDraft] = {}
        self.pending: list[int] = []
        self.posted: list[int] = []
        self.today = date(2019, 4, 1)
        self.closed_year = 2018
        self.counter = 0

    def teardown(self) -> None:
        self.session.close()
        self.engine.dispose()

    def _snapshot(self):
        s = self.session
        return (s.scalar(select(func.count()).select_from(Entry)),
                sorted((b.account_id, b.debits_posted, b.credits_posted, b.debits_pending,
                        b.credits_pending) for b in s.scalars(select(AccountBalance))))

    def _attempt(self, action) -> object | None:
        """Run an operation; if refused, check it changed nothing."""
        before = self._snapshot()
        try:
            result = action()
            self.session.commit()
            return result
        except SibError:
            self.session.rollback()
            assert self._snapshot() == before, "a refused operation changed the ledger"
            return None

    def _key(self) -> str:
        self.counter += 1
        return f"k{self.counter}"

    @rule(data=st.data(), pending=st.booleans())
    def post(self, data, pending):
        pairs = data.draw(st.lists(st.tuples(st.sampled_from(ACCOUNTS),
                                             st.sampled_from(ACCOUNTS),
                                             st.integers(min_value=1, max_value=500)),
                                   min_size=1, max_size=3))
        postings = []
        for d, c, amount in pairs:
            postings += [PostingDraft(d, "D", Money(amount, "JPY")),
                         PostingDraft(c, "C", Money(amount, "JPY"))]
        draft = EntryDraft("b", self._key(), "random", self.today, postings)
        entry = self._attempt(lambda: post_entry(self.session, draft, pending=pending))
        if entry is not None:
            self.keys[draft.idempotency_key] = draft
            (self.pending if pending else self.posted).append(entry.id)

    @rule(amount=st.integers(min_value=1, max_value=2000))
    def fund(self, amount):
        draft = EntryDraft("b", self._key(), "funding", self.today,
                           [PostingDraft("cash", "D", Money(amount, "JPY")),
                            PostingDraft("loan", "C", Money(amount, "JPY"))])
        entry = self._attempt(lambda: post_entry(self.session, draft))
        if entry is not None:
            self.keys[draft.idempotency_key] = draft
            self.posted.append(entry.id)

    @precondition(lambda self: self.pending)
    @rule(data=st.data(), how=st.sampled_from(["full", "part", "void"]))
    def resolve(self, data, how):
        entry_id = data.draw(st.sampled_from(self.pending))
        if how == "void":
            self._attempt(lambda: void_pending(self.session, "b", entry_id, self._key(),
                                               self.today))
            return
        postings = self.session.execute(
            select(Posting, Account.code).join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id == entry_id).order_by(Posting.id)).all()
        if how == "part":
            factor = data.draw(st.integers(min_value=1, max_value=100))
            drafts = []
            for posting, code in postings:
                drafts.append(PostingDraft(code, posting.side, Money(
                    max(1, posting.amount_minor * factor // 100), "JPY")))
            result = self._attempt(lambda: post_pending(self.session, "b", entry_id,
                                                        self._key(), self.today,
                                                        postings=drafts))
        else:
            result = self._attempt(lambda: post_pending(self.session, "b", entry_id,
                                                        self._key(), self.today))
        if result is not None:
            self.posted.append(result.id)

    @precondition(lambda self: self.posted)
    @rule(data=st.data())
    def reverse(self, data):
        entry_id = data.draw(st.sampled_from(self.posted))
        self._attempt(lambda: reverse_entry(self.session, "b", entry_id, self._key(),
                                            self.today))

    @precondition(lambda self: self.keys)
    @rule(data=st.data(), same=st.booleans())
    def retry(self, data, same):
        key = data.draw(st.sampled_from(sorted(self.keys)))
        original = self.keys[key]
        first_id = self.session.scalar(select(Entry.id).where(Entry.idempotency_key == key))
        if same:
            pending = self.session.get(Entry, first_id).status == "pending"
            entry = self._attempt(lambda: post_entry(self.session, original, pending=pending))
            assert entry is not None and entry.id == first_id
        else:
            changed = EntryDraft("b", key, "changed", original.effective_on,
                                 original.postings)
            before = self._snapshot()
            try:
                post_entry(self.session, changed)
                raise AssertionError("a reused key with other content was accepted")
            except SibError as error:
                assert error.code == "IDEMPOTENCY_CONFLICT"
            self.session.rollback()
            assert self._snapshot() == before

    @rule(days=st.integers(min_value=1, max_value=120))
    def advance(self, days):
        self.today += timedelta(days=days)

    @rule()
    def close(self):
        year = self.closed_year + 1
        if date(year + 1, 3, 31) < self.today:
            if self._attempt(lambda: close_period(self.session, "b", year)) is not None:
                self.closed_year = year

    @invariant()
    def debits_equal_credits(self):
        totals = self.session.execute(select(
            func.coalesce(func.sum(AccountBalance.debits_posted), 0),
            func.coalesce(func.sum(AccountBalance.credits_posted), 0),
            func.coalesce(func.sum(AccountBalance.debits_pending), 0),
            func.coalesce(func.sum(AccountBalance.credits_pending), 0))).one()
        assert totals[0] == totals[1] and totals[2] == totals[3]

    @invariant()
    def maintained_balances_match_the_postings(self):
        assert verify(self.session).ok
        recomputed = defaultdict(lambda: [0, 0])
        for account_id, side, amount in self.session.execute(
                select(Posting.account_id, Posting.side, Posting.amount_minor)
                .where(Posting.status == "posted")):
            recomputed[account_id][0 if side == "D" else 1] += amount
        for balance in self.session.scalars(select(AccountBalance)):
            assert [balance.debits_posted, balance.credits_posted] == \
                recomputed.get(balance.account_id, [0, 0])

    @invariant()
    def no_limit_is_broken(self):
        for account, balance in self.session.execute(
                select(Account, AccountBalance)
                .join(AccountBalance, AccountBalance.account_id == Account.id)):
            if account.credits_must_not_exceed_debits:
                assert balance.credits_posted + balance.credits_pending <= balance.debits_posted
            if account.debits_must_not_exceed_credits:
                assert balance.debits_posted + balance.debits_pending <= balance.credits_posted


LedgerMachine.TestCase.settings = settings(
    max_examples=max(1, STEPS // STEP_COUNT), stateful_step_count=STEP_COUNT, deadline=None,
    suppress_health_check=list(HealthCheck))
TestLedgerStateful = LedgerMachine.TestCase
