"""The package lifecycle: pure rules, applied by the service inside a transaction.

::

    draft ──submit──► review ──approve (approver ≠ author)──► published
      ▲                 │                                        │ revise → a new draft
      └──send back──────┘                                        ▼ revision, submitted and
                                                              updated   approved the same way
    published | updated ──withdraw──► withdrawn

Each revision has its own status (draft → review → published) and its own author; the package
state says where the package as a whole stands. Publishing needs a second person: the approver
of a revision may not be its author. A published revision is never changed again.
"""

from __future__ import annotations

from enum import StrEnum

from sakimori.errors import Conflict, PermissionDenied


class State(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"
    UPDATED = "updated"
    WITHDRAWN = "withdrawn"


class RevisionStatus(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    PUBLISHED = "published"


LIVE = frozenset({State.PUBLISHED, State.UPDATED})


def check_edit(state: State, pending: RevisionStatus | None) -> None:
    """Only a draft revision can be edited."""
    if state is State.WITHDRAWN:
        raise Conflict("the package is withdrawn")
    if pending is not RevisionStatus.DRAFT:
        raise Conflict(
            "only a draft revision can be edited",
            hint="send it back to draft, or revise the published package",
        )


def revise(state: State, pending: RevisionStatus | None) -> None:
    """A new draft revision of a published package."""
    if state not in LIVE:
        raise Conflict(f"only a published package can be revised; this one is {state.value}")
    if pending is not None:
        raise Conflict(f"revision already pending ({pending.value})")


def submit(state: State, pending: RevisionStatus | None) -> tuple[State, RevisionStatus]:
    check_edit(state, pending)
    return (State.REVIEW if state is State.DRAFT else state), RevisionStatus.REVIEW


def send_back(state: State, pending: RevisionStatus | None) -> tuple[State, RevisionStatus]:
    if pending is not RevisionStatus.REVIEW:
        raise Conflict("no revision is in review")
    return (State.DRAFT if state is State.REVIEW else state), RevisionStatus.DRAFT


def approve(
    state: State, pending: RevisionStatus | None, *, author: str, approver: str, number: int
) -> tuple[State, RevisionStatus]:
    """Publish the revision in review; its author may not approve it."""
    if pending is not RevisionStatus.REVIEW:
        raise Conflict("no revision is in review", hint="submit the draft first")
    if author == approver:
        raise PermissionDenied(
            "publishing needs a second person: the author of a revision may not approve it",
            hint="ask another coordinator to approve",
        )
    return (State.PUBLISHED if number == 1 else State.UPDATED), RevisionStatus.PUBLISHED


def withdraw(state: State) -> State:
    if state not in LIVE:
        raise Conflict(f"only a published package can be withdrawn; this one is {state.value}")
    return State.WITHDRAWN
