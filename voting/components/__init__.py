"""The daily-stage components (docs/rules.md §2, §6): the exchange files, single entries,
主管单位评价."""
