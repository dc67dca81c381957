"""How the split changes and pays out, always by a named actor: filing, reviewing, activating,
withdrawing and expiring proposals (`lifecycle`), profit distributions under the split in force
(`distribution`), and the seed's `AllocationManager` facade over both (`manager`). May import
`core.base`, `core.record`, `core.allocation` and `core.governance`."""
