"""Smoke test of the plugin inside a real OpenGait checkout, on CPU, in one process.

OpenGait's launcher needs CUDA and nccl, so this drives OpenGait's own classes directly: a gloo
process group of size 1, and ``.cuda()`` / ``torch.cuda.set_device`` / cuda ``.to()`` / cuda
``map_location`` turned into CPU for the run (patches of torch made here, never of our code or
OpenGait's files). Steps:

1. ``install-plugin`` into the checkout;
2. OpenGait's registry (``modeling.models``) exposes our ``Local3DCNN`` and ``GaitGLLocal3D`` and still its own
   GaitSet/GaitPart/GaitGL;
3. OpenGait's ``BaseModel`` builds the model an installed config names (default
   ``configs/3dlocal/3dlocal_casiab.yaml``; ``--config configs/3dlocal/gaitgl_local3d_casiab.yaml`` for GaitGL
   with 3D local paths) (data: a small SynthGait set; batch, clip length and iterations shrunk for a CPU);
4. one batch of OpenGait's loader through ``inputs_pretreament``, the forward pass, OpenGait's own
   ``LossAggregator`` and backward;
5. OpenGait's ``run_train`` (DDP-wrapped by OpenGait's ``DDPPassthrough``) for 2 iterations, which saves
   its checkpoint; then, as ``--phase test`` does, a test-mode model restores it and OpenGait's
   ``run_test`` (``evaluate_indoor_dataset``) tests it;
6. our engine tests OpenGait's checkpoint (in a subprocess) and must find the same rank-1 figures:
   one model definition, two hosts, one checkpoint.

Run it with a Python that has OpenGait's requirements and this package installed::

    python third_party/opengait_smoke.py --opengait /path/to/OpenGait [--config configs/3dlocal/NAME.yaml]

It writes only the plugin's files into the checkout (remove them with ``uninstall-plugin``); data
and outputs go to a temporary folder.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import yaml

from opengait_local3d.datasets.synthgait import generate
from opengait_local3d.opengait_plugin import install, resolve_opengait_root
from opengait_local3d.resources import CONFIG_DIR

CONFIG = "configs/3dlocal/3dlocal_casiab.yaml"
#: our models in OpenGait's registry, and OpenGait's own that the plugin must leave alone
OURS, OPENGAITS = ("Local3DCNN", "GaitGLLocal3D"), ("GaitSet", "GaitPart", "GaitGL")
ITERATIONS = 2
#: the installed config's settings changed for a small CPU run (section -> key -> value)
CPU_OVERRIDES = {
    "trainer_cfg": {"enable_float16": False, "total_iter": ITERATIONS, "save_iter": ITERATIONS, "log_iter": 1,
                    "with_test": False, "save_name": "plugin_smoke"},
    "evaluator_cfg": {"enable_float16": False, "save_name": "plugin_smoke"},
}
TRAIN_SAMPLER = {"batch_size": [2, 2], "frames_num_fixed": 8, "frames_skip_num": 2}


def _cpu(device):
    cuda = isinstance(device, torch.device) and device.type == "cuda"
    return torch.device("cpu") if cuda else device


def run_cuda_code_on_cpu() -> None:
    """Make OpenGait's CUDA calls CPU no-ops in this process."""
    module_to, load = torch.nn.Module.to, torch.load
    torch.Tensor.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    torch.nn.Module.to = lambda self, *args, **kwargs: module_to(
        self, *map(_cpu, args), **{key: _cpu(value) for key, value in kwargs.items()})
    torch.load = lambda *args, map_location=None, **kwargs: load(*args, map_location=_cpu(map_location), **kwargs)
    torch.cuda.set_device = lambda *args, **kwargs: None
    torch.cuda.current_device = lambda: 0


def import_torchvision() -> None:
    """Import torchvision; a CUDA build of it beside a CPU torch fails to register its C++ ops' fake
    kernels, which OpenGait never uses: skip those registrations then."""
    try:
        import torchvision  # noqa: F401
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
        for name in [name for name in sys.modules if name.startswith("torchvision")]:
            del sys.modules[name]
        register_fake = torch.library.register_fake
        torch.library.register_fake = lambda *args, **kwargs: (lambda function: function)
        try:
            import torchvision  # noqa: F401,F811
        finally:
            torch.library.register_fake = register_fake
        print("note: torchvision's C++ ops are unavailable here (CUDA build, CPU torch); OpenGait does not use them")


def small_config(config_loader, config: str, data_root: Path, partition: Path) -> dict:
    """The installed ``config`` merged over OpenGait's default.yaml by OpenGait, shrunk for a CPU."""
    cfgs = config_loader(config)
    cfgs["data_cfg"].update(dataset_root=str(data_root), dataset_partition=str(partition), num_workers=0)
    for section, values in CPU_OVERRIDES.items():
        cfgs[section].update(values)
    cfgs["trainer_cfg"]["sampler"].update(TRAIN_SAMPLER)
    cfgs["evaluator_cfg"]["sampler"]["batch_size"] = torch.distributed.get_world_size()
    return cfgs


def check_registry(models) -> None:
    for name in OURS:
        model = getattr(models, name)
        assert model.__module__ == "opengait_local3d.opengait_plugin.binding", f"{name}: {model.__module__}"
    for name in OPENGAITS:
        module = getattr(models, name).__module__
        assert module == f"modeling.models.{name.lower()}", f"the plugin replaced OpenGait's {name} ({module})"
    print(f"registry: {', '.join(OURS)} = opengait_local3d.opengait_plugin.binding.OpenGaitHost; "
          f"{', '.join(OPENGAITS)} are still OpenGait's")


def one_step(model) -> None:
    """One batch through OpenGait's pretreatment, our forward, OpenGait's LossAggregator, backward."""
    ipts = model.inputs_pretreament(next(iter(model.train_loader)))
    print(f"batch: ipts {[tuple(x.shape) for x in ipts[0]]}, labels {ipts[1].tolist()}")
    retval = model(ipts)
    for prefix, feat in retval["training_feat"].items():
        print(f"training_feat[{prefix!r}]: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in feat.items()))
    loss_sum, loss_info = model.loss_aggregator(retval["training_feat"])
    loss_sum.backward()
    without_grad = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    print(f"LossAggregator: loss_sum {loss_sum.item():.4f}; "
          + ", ".join(f"{k} {v.float().mean().item():.4f}" for k, v in loss_info.items()))
    print(f"parameters without a gradient after backward: {len(without_grad)} {without_grad[:5]}")
    model.zero_grad(set_to_none=True)


def engine_metrics(config: str, cfgs: dict, checkpoint: Path, workdir: Path) -> dict[str, float]:
    """Our engine's test phase on OpenGait's checkpoint, in a subprocess (it runs without a process group)."""
    ours = yaml.safe_load((CONFIG_DIR / Path(config).relative_to("configs/3dlocal")).read_text())
    ours["data_cfg"].update({k: cfgs["data_cfg"][k] for k in ("dataset_root", "dataset_partition", "num_workers")})
    ours["evaluator_cfg"].update(cfgs["evaluator_cfg"], restore_hint=str(checkpoint))
    config = workdir / "engine_test.yaml"
    config.write_text(yaml.safe_dump(ours))
    program = ("import json, sys; from opengait_local3d.engine import run; "
               "print(json.dumps({k: float(v) for k, v in run(sys.argv[1], 'test', device='cpu').metrics.items()}))")
    result = subprocess.run([sys.executable, "-c", program, str(config)], cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the engine's test phase failed:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opengait", metavar="PATH", default=None, help="the checkout (default: $OPENGAIT_ROOT)")
    parser.add_argument("--config", default=CONFIG,
                        help=f"an installed config, relative to the checkout (default: {CONFIG})")
    args = parser.parse_args()
    root = resolve_opengait_root(args.opengait)
    for action in install(root):
        print(f"install-plugin: {action.describe()}")

    workdir = Path(tempfile.mkdtemp(prefix="opengait_smoke_"))
    data = generate(workdir / "synthgait", subjects=5, views=(0, 90), frames=10, size=64, workers=1, progress=False)
    sys.path.insert(0, str(root / "opengait"))
    os.chdir(root)  # OpenGait reads ./configs/default.yaml
    run_cuda_code_on_cpu()
    import_torchvision()
    torch.distributed.init_process_group("gloo", init_method=f"file://{workdir / 'process_group'}", rank=0, world_size=1)

    from modeling import models
    from utils import config_loader, get_msg_mgr
    from utils.common import DDPPassthrough

    check_registry(models)
    cfgs = small_config(config_loader, args.config, data.root, data.partition)
    name = cfgs["model_cfg"]["model"]
    host_class = getattr(models, name)
    os.chdir(workdir)  # OpenGait writes output/ under the working folder
    save_path = Path("output", cfgs["data_cfg"]["dataset_name"], name, "plugin_smoke")
    get_msg_mgr().init_manager(str(save_path), False, 1, 0)
    model = host_class(cfgs, training=True)
    print(f"built {name}({type(model.net).__module__}.{type(model.net).__name__}) from {args.config}; "
          f"state_dict keys all net.*: {all(k.startswith('net.') for k in model.state_dict())}")
    one_step(model)
    host_class.run_train(DDPPassthrough(model))
    checkpoint = workdir / save_path / "checkpoints" / f"plugin_smoke-{ITERATIONS:05d}.pt"
    print(f"OpenGait saved {checkpoint}")
    cfgs["evaluator_cfg"]["restore_hint"] = str(checkpoint)  # as --phase test with a checkpoint path
    opengait = host_class.run_test(host_class(cfgs, training=False))
    engine = engine_metrics(args.config, cfgs, checkpoint, workdir)
    print("rank-1 (%)  OpenGait  engine, same checkpoint")
    for key, value in opengait.items():
        print(f"{key.split('/')[-1]:>10}  {value:8.2f}  {engine[key]:6.2f}")
        assert abs(engine[key] - value) < 1e-6, f"{key}: OpenGait {value}, engine {engine[key]}"
    print(f"outputs in {workdir}")
    torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
