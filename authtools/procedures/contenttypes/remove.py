"""Deleting stale content types with what references them (only with --remove-stale)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from authtools.procedures.contenttypes.references import count_by, references_without_model
from authtools.procedures.contenttypes.snapshot import read_snapshot
from authtools.procedures.contenttypes.sql import delete_where


def deletion_collector(using: str, ids: Sequence[int]) -> Any:
    """Django's deletion collector over the stale rows, every row loaded (no fast deletes), so
    that the plan can count and the backup can keep what would go."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models.deletion import Collector

    class LoadingCollector(Collector):
        def can_fast_delete(self, *args: Any, **kwargs: Any) -> bool:
            return False

    collector = LoadingCollector(using=using)
    collector.collect(list(ContentType.objects.using(using).filter(pk__in=ids)))
    return collector


def cascade_counts(using: str, ids: Sequence[int]) -> dict[str, int]:
    """{'auth.Permission': 4, ...}: what deleting the content types IDS deletes, cascades
    included (as remove_stale_contenttypes lists them); tables without a model too."""
    if not ids:
        return {}
    collector = deletion_collector(using, ids)
    counts = {model._meta.label: len(objs) for model, objs in collector.data.items()}
    for (f, value), batches in collector.field_updates.items():
        shown = "NULL" if value is None else repr(value)
        key = f"{f.model._meta.label}.{f.name} set to {shown}"
        counts[key] = counts.get(key, 0) + sum(len(batch) for batch in batches)
    for ref, ref_ids in references_without_model(using, ids):
        n = sum(count_by(ref, using, ref_ids).values())
        if n:
            counts[ref.name] = n
    return dict(sorted(counts.items()))


def remove_stale(using: str, labels: Sequence[str]) -> dict[str, int]:
    """Delete the content types LABELS and everything that references them; counts by model."""
    from django.contrib.contenttypes.models import ContentType

    ids = [pk for label, pk in read_snapshot(using).by_label.items() if label in labels]
    if not ids:
        return {}
    counts: dict[str, int] = {}
    for ref, ref_ids in references_without_model(using, ids):
        counts[ref.name] = delete_where(using, ref.table, ref.column, ref_ids)
    _, per_model = ContentType.objects.using(using).filter(pk__in=ids).delete()
    counts.update(per_model)
    return {k: v for k, v in sorted(counts.items()) if v}
