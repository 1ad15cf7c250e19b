// GENERATED FILE - do not edit by hand.
// Source: contracts/DemoToken.sol (sha256 6fd08afefdf48a2e3180584434f7f55bac0e47583ac27c03981043a9dfdaa336)
// Compiler: solc 0.8.30+commit.73712a01.Emscripten.clang, optimizer 200 runs, evmVersion cancun
// Regenerate: node scripts/compile-contracts.mjs

export const demoTokenSourceSha256 = '6fd08afefdf48a2e3180584434f7f55bac0e47583ac27c03981043a9dfdaa336';

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
        "name": "account",
        "type": "address"
      },
      {
        "indexed": false,
        "internalType": "bool",
        "name": "on",
        "type": "bool"
      }
    ],
    "name": "FailSilentlySet",
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
    "name": "failsSilently",
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
    "inputs": [
      {
        "internalType": "address",
        "name": "account",
        "type": "address"
      },
      {
        "internalType": "bool",
        "name": "on",
        "type": "bool"
      }
    ],
    "name": "setFailSilently",
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

export const demoTokenBytecode: `0x${string}` = '0x60a0604052348015600e575f5ffd5b50336080526080516109216100405f395f818161021e015281816102e5015281816104ba015261055c01526109215ff3fe608060405234801561000f575f5ffd5b50600436106100ef575f3560e01c806340c10f191161009357806395d89b411161006357806395d89b4114610258578063a9059cbb1461027b578063dd62ed3e1461028e578063fbac3951146102b8575f5ffd5b806340c10f19146101c557806370a08231146101d8578063897d9613146101f75780638da5cb5b14610219575f5ffd5b806318160ddd116100ce57806318160ddd1461016f57806323b872dd146101855780632642182714610198578063313ce567146101ab575f5ffd5b80620af2a1146100f357806306fdde0314610108578063095ea7b31461014c575b5f5ffd5b6101066101013660046107ab565b6102da565b005b6101366040518060400160405280600f81526020016e14db1d5a58d94811195b5bc81554d1608a1b81525081565b60405161014391906107e4565b60405180910390f35b61015f61015a366004610819565b610389565b6040519015158152602001610143565b6101775f5481565b604051908152602001610143565b61015f610193366004610841565b610415565b6101066101a63660046107ab565b6104af565b6101b3600681565b60405160ff9091168152602001610143565b6101066101d3366004610819565b610551565b6101776101e636600461087b565b60016020525f908152604090205481565b61015f61020536600461087b565b60046020525f908152604090205460ff1681565b6102407f000000000000000000000000000000000000000000000000000000000000000081565b6040516001600160a01b039091168152602001610143565b610136604051806040016040528060048152602001631554d11560e21b81525081565b61015f610289366004610819565b61062b565b61017761029c36600461089b565b600260209081525f928352604080842090915290825290205481565b61015f6102c636600461087b565b60036020525f908152604090205460ff1681565b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000161461032a5760405163245aecd360e01b81523360048201526024015b60405180910390fd5b6001600160a01b0382165f81815260036020908152604091829020805460ff191685151590811790915591519182527f30e5e165e1604086343a385170c8b1b5a4ddb5b00ba4cf8cc1440f5dfcc0fa9791015b60405180910390a25050565b5f6001600160a01b0383166103b15760405163d92e233d60e01b815260040160405180910390fd5b335f8181526002602090815260408083206001600160a01b03881680855290835292819020869055518581529192917f8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925910160405180910390a35060015b92915050565b6001600160a01b0383165f9081526002602090815260408083203384529091528120545f198114610499578281101561047157604051630c95cf2760e11b81523360048201526024810182905260448101849052606401610321565b6001600160a01b0385165f908152600260209081526040808320338452909152902083820390555b6104a4858585610666565b506001949350505050565b336001600160a01b037f000000000000000000000000000000000000000000000000000000000000000016146104fa5760405163245aecd360e01b8152336004820152602401610321565b6001600160a01b0382165f81815260046020908152604091829020805460ff191685151590811790915591519182527fe3c45d3e7b337180076a46133ba1d25000c98f763188dedfa509e856dc6cf9d1910161037d565b336001600160a01b037f0000000000000000000000000000000000000000000000000000000000000000161461059c5760405163245aecd360e01b8152336004820152602401610321565b6001600160a01b0382166105c35760405163d92e233d60e01b815260040160405180910390fd5b805f5f8282546105d391906108cc565b90915550506001600160a01b0382165f818152600160209081526040808320805486019055518481527fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef910160405180910390a35050565b6001600160a01b0382165f9081526004602052604081205460ff161561065257505f61040f565b61065d338484610666565b50600192915050565b6001600160a01b03821661068d5760405163d92e233d60e01b815260040160405180910390fd5b6001600160a01b0382165f9081526003602052604090205460ff16156106d15760405163325fbd1560e11b81526001600160a01b0383166004820152602401610321565b6001600160a01b0383165f90815260016020526040902054818110156107235760405163db42144d60e01b81526001600160a01b03851660048201526024810182905260448101839052606401610321565b6001600160a01b038085165f8181526001602052604080822086860390559286168082529083902080548601905591517fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef906107829086815260200190565b60405180910390a350505050565b80356001600160a01b03811681146107a6575f5ffd5b919050565b5f5f604083850312156107bc575f5ffd5b6107c583610790565b9150602083013580151581146107d9575f5ffd5b809150509250929050565b602081525f82518060208401528060208501604085015e5f604082850101526040601f19601f83011684010191505092915050565b5f5f6040838503121561082a575f5ffd5b61083383610790565b946020939093013593505050565b5f5f5f60608486031215610853575f5ffd5b61085c84610790565b925061086a60208501610790565b929592945050506040919091013590565b5f6020828403121561088b575f5ffd5b61089482610790565b9392505050565b5f5f604083850312156108ac575f5ffd5b6108b583610790565b91506108c360208401610790565b90509250929050565b8082018082111561040f57634e487b7160e01b5f52601160045260245ffdfea26469706673582212209f0c09dd9acd7f4dceb3e264939eb3bb5c172cdbb1b36d41b45cb844f84f0d4064736f6c634300081e0033';
