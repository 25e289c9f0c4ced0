"""Column types shared by the models."""

from __future__ import annotations

from enum import Enum as PyEnum

from sqlalchemy import Enum


def string_enum(cls: type[PyEnum], name: str, length: int = 24) -> Enum:
    """A Python enum stored as its values in a VARCHAR: adding a member needs no
    ALTER TYPE, and both backends store it the same way."""
    return Enum(cls, name=name, native_enum=False, length=length,
                values_callable=lambda members: [m.value for m in members])
