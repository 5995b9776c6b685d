"""Writing: plan/apply/undo, the one operations API every front end calls, the journal, via-OpenCode, abort."""
