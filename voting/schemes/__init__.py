"""Window-performance assessments (窗口绩效考核): schemes, their data files and commands
(docs/schemes.md). The scoring itself is `scoring.schemes`."""
