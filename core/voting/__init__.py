"""Community voting's pure core: token holders vote on proposals with messages signed by their
wallets, weighted by their holdings at a snapshot (Snapshot's off-chain votes, OpenZeppelin
Governor's counting). What is here has no database and no clock, so anyone holding the published
snapshot and the exported signed votes can recount with the same functions:

EVM addresses read and normalised with their EIP-55 checksum (`addresses`); a holders snapshot
read from CSV, all rows or none, and Snapshot's delegation rule (`snapshot_file`); the Merkle
tree of the (address, weight) table, OpenZeppelin StandardMerkleTree's, so a holder can check
their own weight against the published root (`merkle`); the EIP-712 typed data a wallet signs
for a vote and its verification with eth-account (`typed_data`); and the tally against the
quorum (`tally`).

May import `core.base` and `core.allocation`.
"""
