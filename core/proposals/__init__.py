"""How the split changes and pays out, always by a named actor: filing, reviewing, activating,
withdrawing and expiring proposals (`lifecycle`), profit distributions under the split in force
(`distribution`), the log as the History CSV writes it (`history_export`), and the seed's
`AllocationManager` facade over both (`manager`). May import `core.base`, `core.record`,
`core.allocation` and `core.governance`."""
