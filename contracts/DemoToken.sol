// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.20;

/// @title Sluice Demo USD
/// @notice Minimal ERC-20 for local dev chains. Not for production: the owner can
///         mint freely, block recipients (so tests can force an on-chain revert of an
///         otherwise valid withdrawal transfer) and make transfers to an address return
///         false without moving anything (as some real tokens do instead of reverting).
contract DemoToken {
    string public constant name = "Sluice Demo USD";
    string public constant symbol = "USDT";
    uint8 public constant decimals = 6;

    address public immutable owner;
    uint256 public totalSupply;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlocked;
    mapping(address => bool) public failsSilently;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event BlockedSet(address indexed account, bool blocked);
    event FailSilentlySet(address indexed account, bool on);

    error NotOwner(address caller);
    error ZeroAddress();
    error RecipientBlocked(address recipient);
    error InsufficientBalance(address from, uint256 balance, uint256 needed);
    error InsufficientAllowance(address spender, uint256 allowance, uint256 needed);

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        if (failsSilently[to]) return false;
        _transfer(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 current = allowance[from][msg.sender];
        // Max allowance means "unlimited" (common ERC-20 convention), so it is not spent.
        if (current != type(uint256).max) {
            if (current < amount) revert InsufficientAllowance(msg.sender, current, amount);
            unchecked {
                allowance[from][msg.sender] = current - amount;
            }
        }
        _transfer(from, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        if (spender == address(0)) revert ZeroAddress();
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    /// @dev Minting ignores the block list so tests can fund any account.
    function mint(address to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert ZeroAddress();
        totalSupply += amount;
        unchecked {
            // Cannot overflow: every balance is bounded by totalSupply.
            balanceOf[to] += amount;
        }
        emit Transfer(address(0), to, amount);
    }

    function setBlocked(address account, bool blocked) external onlyOwner {
        isBlocked[account] = blocked;
        emit BlockedSet(account, blocked);
    }

    function setFailSilently(address account, bool on) external onlyOwner {
        failsSilently[account] = on;
        emit FailSilentlySet(account, on);
    }

    function _transfer(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        if (isBlocked[to]) revert RecipientBlocked(to);
        uint256 fromBalance = balanceOf[from];
        if (fromBalance < amount) revert InsufficientBalance(from, fromBalance, amount);
        unchecked {
            balanceOf[from] = fromBalance - amount;
            balanceOf[to] += amount;
        }
        emit Transfer(from, to, amount);
    }
}
