"""What the doctor found: one :class:`Check` per check, rendered as text or JSON.

A check that fails carries its fix, written for the operator (which option, which file),
because the point of the doctor is to end the password prompts, not to describe them.
``warn`` flags something worth knowing that does not break Apple clients; ``skip`` says a
check could not run safely (e.g. no password is sent over an untrusted connection).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

Status = Literal["pass", "fail", "warn", "skip"]


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    status: Status
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def passed(id: str, title: str, detail: str) -> Check:
    return Check(id, title, "pass", detail)


def failed(id: str, title: str, detail: str, fix: str) -> Check:
    return Check(id, title, "fail", detail, fix)


@dataclass
class Report:
    url: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)

    def counts(self) -> dict[Status, int]:
        out: dict[Status, int] = {"pass": 0, "fail": 0, "warn": 0, "skip": 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "ok": self.ok,
                "counts": self.counts(),
                "checks": [asdict(c) for c in self.checks],
            },
            indent=2,
        )

    def to_text(self) -> str:
        lines = [f"caldav-gateway doctor: {self.url}"]
        last_fix = ""
        for c in self.checks:
            lines.append(f"{c.status.upper():4}  {c.id:24} {c.title}: {c.detail}")
            if c.fix and c.status in ("fail", "warn"):
                # Thirteen probe paths share one fix: say it once, readably.
                lines.append(f"      fix: {c.fix if c.fix != last_fix else '(as above)'}")
                last_fix = c.fix
        n = self.counts()
        verdict = "OK" if self.ok else "FAILED"
        lines.append(
            f"{verdict}: {n['pass']} passed, {n['fail']} failed, "
            f"{n['warn']} warnings, {n['skip']} skipped"
        )
        return "\n".join(lines)
