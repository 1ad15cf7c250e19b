// GENERATED FILE - do not edit by hand.
// Source: contracts/DemoToken.sol (sha256 da7672522054b10770d9d508c4795986e062727dfee07122de42a8bdcef56171)
// Compiler: solc 0.8.30+commit.73712a01.Emscripten.clang, optimizer 200 runs, evmVersion cancun
// Regenerate: node scripts/compile-contracts.mjs

export const demoTokenSourceSha256 = 'da7672522054b10770d9d508c4795986e062727dfee07122de42a8bdcef56171';

export const demoTokenAbi = [
  {
    "inputs": [],
    "stateMutability": "nonpayable",
    "type": "constructor"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "spender",
        "type": "address"
      },
      {
        "internalType": "uint256",
        "name": "allowance",
        "type": "uint256"
      },
      {
        "internalType": "uint256",
        "name": "needed",
        "type": "uint256"
      }
    ],
    "name": "InsufficientAllowance",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "from",
        "type": "address"
      },
      {
        "internalType": "uint256",
        "name": "balance",
        "type": "uint256"
      },
      {
        "internalType": "uint256",
        "name": "needed",
        "type": "uint256"
      }
    ],
    "name": "InsufficientBalance",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "caller",
        "type": "address"
      }
    ],
    "name": "NotOwner",
    "type": "error"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "recipient",
        "type": "address"
      }
    ],
    "name": "RecipientBlocked",
    "type": "error"
  },
  {
    "inputs": [],
    "name": "ZeroAddress",
    "type": "error"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "address",
        "name": "owner",
        "type": "address"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "spender",
        "type": "address"
      },
      {
        "indexed": false,
        "internalType": "uint256",
        "name": "value",
        "type": "uint256"
      }
    ],
    "name": "Approval",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "indexed": false,
        "internalType": "bool",
        "name": "blocked",
        "type": "bool"
      }
    ],
    "name": "BlockedSet",
    "type": "event"
  },
  {
    "anonymous": false,
    "inputs": [
      {
        "indexed": true,
        "internalType": "address",
        "name": "from",
        "type": "address"
      },
      {
        "indexed": true,
        "internalType": "address",
        "name": "to",
        "type": "address"
      },
      {
        "indexed": false,
        "internalType": "uint256",
        "name": "value",
        "type": "uint256"
      }
    ],
    "name": "Transfer",
    "type": "event"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "",
        "type": "address"
      },
      {
        "internalType": "address",
        "name": "",
        "type": "address"
      }
    ],
    "name": "allowance",
    "outputs": [
      {
        "internalType": "uint256",
        "name": "",
        "type": "uint256"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "spender",
        "type": "address"
      },
      {
        "internalType": "uint256",
        "name": "amount",
        "type": "uint256"
      }
    ],
    "name": "approve",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "",
        "type": "address"
      }
    ],
    "name": "balanceOf",
    "outputs": [
      {
        "internalType": "uint256",
        "name": "",
        "type": "uint256"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "decimals",
    "outputs": [
      {
        "internalType": "uint8",
        "name": "",
        "type": "uint8"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "",
        "type": "address"
      }
    ],
    "name": "isBlocked",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "to",
        "type": "address"
      },
      {
        "internalType": "uint256",
        "name": "amount",
        "type": "uint256"
      }
    ],
    "name": "mint",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "name",
    "outputs": [
      {
        "internalType": "string",
        "name": "",
        "type": "string"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "owner",
    "outputs": [
      {
        "internalType": "address",
        "name": "",
        "type": "address"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "internalType": "bool",
        "name": "blocked",
        "type": "bool"
      }
    ],
    "name": "setBlocked",
    "outputs": [],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "symbol",
    "outputs": [
      {
        "internalType": "string",
        "name": "",
        "type": "string"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [],
    "name": "totalSupply",
    "outputs": [
      {
        "internalType": "uint256",
        "name": "",
        "type": "uint256"
      }
    ],
    "stateMutability": "view",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "to",
        "type": "address"
      },
      {
        "internalType": "uint256",
        "name": "amount",
        "type": "uint256"
      }
    ],
    "name": "transfer",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "nonpayable",
    "type": "function"
  },
  {
    "inputs": [
      {
        "internalType": "address",
        "name": "from",
        "type": "address"
      },
      {
        "internalType": "address",
        "name": "to",
        "type": "address"
      },
      {
        "internalType": "uint256",
        "name": "amount",
        "type": "uint256"
      }
    ],
    "name": "transferFrom",
    "outputs": [
      {
        "internalType": "bool",
        "name": "",
        "type": "bool"
      }
    ],
    "stateMutability": "nonpayable",
    "type": "function"
  }
] as const;

export const demoTokenBytecode: `0x${string}` = '0x60a0604052348015600e575f5ffd5b50336080526080516107fe6100395f395f81816101c40152818161028b015261045f01526107fe5ff3fe608060405234801561000f575f5ffd5b50600436106100ca575f3560e01c806340c10f191161008857806395d89b411161006357806395d89b41146101fe578063a9059cbb14610221578063dd62ed3e14610234578063fbac39511461025e575f5ffd5b806340c10f191461018d57806370a08231146101a05780638da5cb5b146101bf575f5ffd5b80620af2a1146100ce57806306fdde03146100e3578063095ea7b31461012757806318160ddd1461014a57806323b872dd14610160578063313ce56714610173575b5f5ffd5b6100e16100dc366004610688565b610280565b005b6101116040518060400160405280600f81526020016e14db1d5a58d94811195b5bc81554d1608a1b81525081565b60405161011e91906106c1565b60405180910390f35b61013a6101353660046106f6565b61032e565b604051901515815260200161011e565b6101525f5481565b60405190815260200161011e565b61013a61016e36600461071e565b6103ba565b61017b600681565b60405160ff909116815260200161011e565b6100e161019b3660046106f6565b610454565b6101526101ae366004610758565b60016020525f908152604090205481565b6101e67f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b03909116815260200161011e565b610111604051806040016040528060048152602001631554d11560e21b81525081565b61013a61022f3660046106f6565b61052e565b610152610242366004610778565b600260209081525f928352604080842090915290825290205481565b61013a61026c366004610758565b60036020525f908152604090205460ff1681565b336001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016146102d05760405163245aecd360e01b81523360048201526024015b60405180910390fd5b6001600160a01b0382165f81815260036020908152604091829020805460ff191685151590811790915591519182527f30e5e165e1604086343a385170c8b1b5a4ddb5b00ba4cf8cc1440f5dfcc0fa97910160405180910390a25050565b5f6001600160a01b0383166103565760405163d92e233d60e01b815260040160405180910390fd5b335f8181526002602090815260408083206001600160a01b03881680855290835292819020869055518581529192917f8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925910160405180910390a35060015b92915050565b6001600160a01b0383165f9081526002602090815260408083203384529091528120545f19811461043e578281101561041657604051630c95cf2760e11b815233600482015260248101829052604481018490526064016102c7565b6001600160a01b0385165f908152600260209081526040808320338452909152902083820390555b610449858585610543565b506001949350505050565b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000161461049f5760405163245aecd360e01b81523360048201526024016102c7565b6001600160a01b0382166104c65760405163d92e233d60e01b815260040160405180910390fd5b805f5f8282546104d691906107a9565b90915550506001600160a01b0382165f818152600160209081526040808320805486019055518481527fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef910160405180910390a35050565b5f61053a338484610543565b50600192915050565b6001600160a01b03821661056a5760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b0382165f9081526003602052604090205460ff16156105ae5760405163325fbd1560e11b81526001600160a01b03831660048201526024016102c7565b6001600160a01b0383165f90815260016020526040902054818110156106005760405163db42144d60e01b81526001600160a01b038516600482015260248101829052604481018390526064016102c7565b6001600160a01b038085165f8181526001602052604080822086860390559286168082529083902080548601905591517fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef9061065f9086815260200190565b60405180910390a350505050565b80356001600160a01b0381168114610683575f5ffd5b919050565b5f5f60408385031215610699575f5ffd5b6106a28361066d565b9150602083013580151581146106b6575f5ffd5b809150509250929050565b602081525f82518060208401528060208501604085015e5f604082850101526040601f19601f83011684010191505092915050565b5f5f60408385031215610707575f5ffd5b6107108361066d565b946020939093013593505050565b5f5f5f60608486031215610730575f5ffd5b6107398461066d565b92506107476020850161066d565b929592945050506040919091013590565b5f60208284031215610768575f5ffd5b6107718261066d565b9392505050565b5f5f60408385031215610789575f5ffd5b6107928361066d565b91506107a06020840161066d565b90509250929050565b808201808211156103b457634e487b7160e01b5f52601160045260245ffdfea26469706673582212208150f516422eadda754b6d592a8eccb36d50d449c66e592d6f699097753713c264736f6c634300081e0033';
