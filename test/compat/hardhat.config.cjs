// A plain hardhat dev node: chain 31337, automine only (a block per transaction, none otherwise).
module.exports = { networks: { hardhat: { chainId: 31337 } } };
