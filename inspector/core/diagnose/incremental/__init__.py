"""Diagnosis at O(changes), in one place: the watermarks and the start-over rule (:mod:`tracker`),
the rows that can have changed since (:mod:`changes`), the state kept across processes
(:mod:`state`), a scan resumed from it (:mod:`resume`) and a deep scan kept current (:mod:`refresh`)."""
