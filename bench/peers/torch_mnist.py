"""The seed model in plain PyTorch (eager): python torch_mnist.py <threads>.
Keras's defaults where they differ from PyTorch's: Glorot-uniform kernels,
zero biases, RMSprop(lr=1e-3, rho=0.9, eps=1e-7). Prints one JSON line."""
import json
import sys
import time

import torch

from mnist_data import load

threads = int(sys.argv[1])
torch.set_num_threads(threads)
torch.manual_seed(1)
(x, y), (xt, yt) = load()
x, y, xt, yt = map(torch.from_numpy, (x, y, xt, yt))
model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
for layer in (model[0], model[2]):
    torch.nn.init.xavier_uniform_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
loss_fn = torch.nn.CrossEntropyLoss()
times = []
for epoch in range(5):
    start = time.perf_counter()
    order = torch.randperm(60000)
    for i in range(0, 60000, 128):
        idx = order[i : i + 128]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[idx]), y[idx]).backward()
        opt.step()
    times.append(time.perf_counter() - start)
with torch.no_grad():
    acc = (model(xt).argmax(1) == yt).float().mean().item()
steady = sorted(times[1:])
print(json.dumps({"peer": f"PyTorch {torch.__version__} eager", "threads": threads, "epochSeconds": times,
                  "medianEpochSeconds": (steady[1] + steady[2]) / 2, "testAccuracy": acc}))
