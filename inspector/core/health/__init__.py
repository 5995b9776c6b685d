"""The database's own health as a reason sessions hang: its write lock held (by whom, for how
long), lock contention our reads and writes met, a WAL the checkpoint cannot keep small, and
(on request) its integrity; and the one guarded maintenance step, a WAL checkpoint.

Built on ``db`` (pragmas, sizes, the kernel's lock table) and ``opencode`` (whether OpenCode has
the file open); the front ends only render what ``look`` and ``checkpoint`` return.
"""
