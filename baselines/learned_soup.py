"""Baseline ``learned_soup``: fusion weights learned by gradient descent on the val loss.

Weights alpha = softmax(logits) (so they stay on the simplex); the fused parameters
sum_k alpha_k theta_k are passed to a functional forward of the live model
(``torch.func.functional_call``), and Adam lowers the val loss with respect to the logits
(the paper's "Learned SWA", model soups' learned soup). Starts at the uniform soup. Its cost
is gradient passes over val, recorded in ``info``; the final weights cost one fused evaluation.
"""

import random
import time
from typing import Annotated

import torch
from torch.func import functional_call

from bomf.core.errors import BomfError
from bomf.core.options import Range
from bomf.fusion import FusionResult, register_method


@register_method("learned_soup", search=False)
def learned_soup(objective, pool, budget, seed, *, epochs: Annotated[int, Range(1, 10_000)] = 3,
                 lr: Annotated[float, Range(0, None, low_open=True)] = 0.05):
    """Softmax fusion weights trained by Adam on the val loss through a functional forward."""
    evaluator = objective.evaluator
    if not hasattr(evaluator, "batch_loss"):
        raise BomfError("learned_soup needs a model evaluator with batches (a real task), not a toy objective")
    torch.manual_seed(seed)
    model, k = pool.model, pool.size
    was_training = model.training
    model.eval()  # no dropout: the gradient of the loss the objective reports
    members = [pool.member_tensors(i) for i in range(k)]
    # Only the fused tensors are replaced in the functional call: everything else (integer
    # buffers, a LoRA model's frozen base, tied copies of a fused tensor) is the live model's own.
    # Passing those too would hand functional_call two values for one tied tensor.
    logits = torch.zeros(k, requires_grad=True, device=members[0][0].device)
    optimizer = torch.optim.Adam([logits], lr=lr)
    order = list(range(len(evaluator.batches)))
    rng = random.Random(seed)
    trace, start = [], time.perf_counter()
    for _ in range(epochs):
        rng.shuffle(order)
        for b in order:
            batch = evaluator.batches[b]
            alpha = torch.softmax(logits, 0)
            params = {name: sum(alpha[i] * members[i][j] for i in range(k)) for j, name in enumerate(pool.names)}
            loss = evaluator.batch_loss(model, batch,
                                        forward=lambda **kw: functional_call(model, params, args=(), kwargs=kw))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            trace.append(loss.item())
    model.train(was_training)
    w = torch.softmax(logits.detach().double(), 0).tolist()
    ev = objective(w, label="learned soup")
    return FusionResult(weights=w, evaluation=ev, info={"gradient_steps": len(trace), "epochs": epochs, "lr": lr,
                                                         "train_seconds": time.perf_counter() - start,
                                                         "batch_losses": trace})
