"""Reading only: scan tiers, stuck patterns, hung verdicts, subagent trees, the id wrap, incremental refresh."""
