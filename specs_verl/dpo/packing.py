"""The shared pair layout: one sequence `[prompt | chosen | last prompt token | rejected]` per pair.

The prompt (system turn, instruction and image tokens) is computed once per pair and its image goes through the
vision tower once. Rejected tokens must see the prompt and themselves only, never chosen, and sit at the positions
they would have in their own sequence. Both facts are written into the text position ids alone:

    input_ids  p_0 .. p_{P-1}  c_0 .. c_{C-1}  p_{P-1}  r_0 .. r_{R-1}
    positions  0   .. P-1      P   .. P+C-1    P-1      P   .. P+R-1

The copy of the last prompt token starts the rejected branch: its logits score r_0 (the prompt's own last token
scores c_0), and it computes exactly what p_{P-1} computes (same token, same position, same visible keys). A
position that does not continue its predecessor starts a branch; a branch sees its own earlier tokens and the
keys of the first branch (prompt + chosen) whose position is below its own start, i.e. the prompt. Position 0
starts a new sequence (padding, or several pairs packed in one row), so nothing crosses pairs. This needs no
extra tensor through verl's engine: `branch_visibility` rebuilds the mask from the position ids every attention
layer receives. The 3-D mRoPE ids of each branch are computed on its own full sequence (`get_rope_index`).

`branch` marks each token: 0 not scored (prompt, the copy), 1 chosen, 2 rejected.

`branch_visibility` is the rule as a dense mask (the reference the tests hold the attention to); `attention_blocks`
is the same rule as a few dense blocks per row, which is what the attention computes: the first branch causally
on itself, every later branch on [the prompt's keys | its own keys, causally], runs of padding on themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

CHOSEN, REJECTED = 1, 2


def prompt_length(loss_mask: torch.Tensor) -> int:
    """Prompt tokens of one sequence: everything before the first response token."""
    nonzero = torch.nonzero(loss_mask, as_tuple=False)
    if not len(nonzero):
        raise ValueError("a sequence without response tokens cannot be packed")
    return int(nonzero[0, 0])


def pack_pair(chosen: dict, rejected: dict) -> dict:
    """The two sequences of a pair (same prompt) -> the one shared row, with `branch`."""
    p = prompt_length(chosen["loss_mask"])
    if prompt_length(rejected["loss_mask"]) != p or not torch.equal(chosen["input_ids"][:p], rejected["input_ids"][:p]):
        raise ValueError("chosen and rejected do not start with the same prompt tokens")
    # the rejected branch: its sequence from the last prompt token on (ids and every row of the position ids)
    tail = slice(p - 1, None)
    n_rejected = rejected["input_ids"].shape[0] - p
    branch = torch.cat([chosen["loss_mask"].long() * CHOSEN, torch.zeros(1, dtype=torch.long),
                        torch.full((n_rejected,), REJECTED, dtype=torch.long)])
    row = {
        "input_ids": torch.cat([chosen["input_ids"], rejected["input_ids"][tail]]),
        "position_ids": torch.cat([chosen["position_ids"], rejected["position_ids"][..., tail]], dim=-1),
        "loss_mask": (branch > 0).long(),
        "branch": branch,
    }
    if "multi_modal_inputs" in chosen:
        row["multi_modal_inputs"] = chosen["multi_modal_inputs"]  # the prompt's image, once
    return row


def row_length(pair: dict, packing: str) -> int:
    """Tokens of the widest row the pair becomes: its shared row, or the longer of its two sequences."""
    chosen, rejected = pair["chosen"]["input_ids"].shape[0], pair["rejected"]["input_ids"].shape[0]
    if packing == "shared":
        return chosen + rejected - prompt_length(pair["rejected"]["loss_mask"]) + 1
    return max(chosen, rejected)


def by_row_length(pairs: list[dict], packing: str) -> list[dict]:
    """The pairs of a batch shortest first, so that the micro-batches verl cuts from it in order pad little.
    No pair's log-probs depend on its neighbours (nothing attends across pairs, padding is masked) and the
    gradient adds over the whole batch, so the order changes nothing but the padding."""
    return sorted(pairs, key=lambda pair: row_length(pair, packing))


def branch_visibility(positions: torch.Tensor) -> torch.Tensor:
    """(B, L) text position ids -> (B, 1, L, L) bool, True where query i may attend to key j.

    Causal within a sequence (a sequence starts at position 0); a later branch (a position that does not continue
    its predecessor) sees itself and the first branch's keys below its start position, nothing else."""
    b, n = positions.shape
    device = positions.device
    step = torch.ones_like(positions, dtype=torch.bool)
    step[:, 1:] = positions[:, 1:] != positions[:, :-1] + 1
    starts_sequence = positions == 0
    starts_sequence[:, 0] = True
    sequence = starts_sequence.long().cumsum(1)
    segment = (step | starts_sequence).long().cumsum(1)
    index = torch.arange(n, device=device).expand(b, n)
    segment_start = torch.zeros_like(index).masked_scatter_(step | starts_sequence, index[step | starts_sequence])
    segment_start = segment_start.cummax(1).values  # the index where each token's branch begins
    start_position = positions.gather(1, segment_start)
    first_segment = segment.gather(1, torch.zeros_like(index).masked_scatter_(
        starts_sequence, index[starts_sequence]).cummax(1).values)  # the first branch of each token's sequence

    q = (slice(None), slice(None), None)
    k = (slice(None), None, slice(None))
    causal = index[q] >= index[k]
    same_sequence = sequence[q] == sequence[k]
    same_branch = segment[q] == segment[k]
    shared_prefix = (segment[k] == first_segment[q]) & (positions[k] < start_position[q])
    return (causal & same_sequence & (same_branch | shared_prefix)).unsqueeze(1)


@dataclass(frozen=True)
class Block:
    """Queries [q0, q1) of one row attend to keys [p0, p0 + prefix) then [q0, q1) causally; `diagonal`: each query
    to itself only (a run of padding tokens, each a sequence of its own)."""

    q0: int
    q1: int
    p0: int = 0
    prefix: int = 0
    diagonal: bool = False


def attention_blocks(positions: list[int]) -> list[Block]:
    """The blocks that cover one row of text position ids in order (the `branch_visibility` rule)."""
    blocks: list[Block] = []
    n = len(positions)
    t = first = first_end = 0
    while t < n:
        end = t + 1
        while end < n and positions[end] == positions[end - 1] + 1:
            end += 1
        if positions[t] == 0:  # a new sequence: its first branch
            first, first_end = t, end
            if end - t == 1 and blocks and blocks[-1].diagonal and blocks[-1].q1 == t:
                blocks[-1] = Block(blocks[-1].q0, end, diagonal=True)  # padding joins the run before it
            else:
                blocks.append(Block(t, end, diagonal=end - t == 1))
        else:  # a later branch: the first branch's keys below its start position, then itself
            blocks.append(Block(t, end, p0=first, prefix=min(positions[t], first_end - first)))
        t = end
    return blocks
