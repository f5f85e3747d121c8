"""The engine's host: OpenGait's ``BaseModel`` API, on CPU or GPU, in one process or under torchrun.

Usage, as in OpenGait::

    model = Model(cfgs, training=True)   # a subclass that builds its network
    Model.run_train(model)               # or Model.run_test(model)

What differs from OpenGait: no ``.cuda()`` (the device comes from
:func:`~opengait_local3d.engine.distributed.get_context`); DDP wraps the model only for the training
forward; the randomness of training batch ``b`` (its sequences, frames, flips, dropout) is a function of
``(seed, b, rank)``, so a run resumed from a checkpoint continues exactly as the uninterrupted one; the test
phase takes any batch size and number of processes and rank 0 gathers the features in dataset order;
Ctrl-C (or torchrun's SIGTERM) during training finishes the step and saves a checkpoint before exiting.

Faults of a long run end it with one :class:`~.errors.FaultError` (or :class:`~.errors.OutputError` for a save the
disk refused) naming the iteration and the newest good checkpoint, and saving nothing after it: a non-finite loss
(see :mod:`.nonfinite`), a collective that timed out or lost a rank (``collective_timeout``).
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
import torch.utils.data
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..local3d import parameter_groups
from ..modeling.init import opengait_init
from ..utils.checks import integer_at_least
from ..utils.state_keys import describe_warm_start
from .checkpoint import load_weights, prune, resume_hint, save_checkpoint
from .config.loading import config_digest
from .data import SAMPLERS, Batch, CollateFn, GaitDataset, check_transforms, get_transform
from .distributed import DEFAULT_TIMEOUT, any_rank, collective_failure, gather_to_main, get_context
from ..errors import ConfigError, DataError, FaultError, OutputError
from .evaluation import Provenance
from .evaluation.functions import evaluate, pre_check
from .interrupts import StopRequest, ignore_interrupts
from .loss_aggregator import LossAggregator
from .messages import get_msg_mgr
from .nonfinite import NonFiniteGuard
from .optimizer_state import carry_state, parameter_names
from .run_folder import RestoreHint, RunFolder
from .watch import TrainingWatch
from ..config.optimizers import OPTIMIZERS, SCHEDULERS

__all__ = ["BaseModel"]


class BaseModel(nn.Module):
    """OpenGait's ``BaseModel``: builds the network, data, losses, optimizer and scheduler from the config.

    Subclasses implement :meth:`build_network` and :meth:`forward` (``forward(inputs)`` with OpenGait's
    input tuple, returning ``training_feat`` / ``visual_summary`` / ``inference_feat``).

    Args:
        cfgs: the full config (see :func:`~opengait_local3d.engine.config.loading.load_config`).
        training: build for training (``trainer_cfg``) or testing (``evaluator_cfg``).
        folder: the phase's run folder (default: the config's, :meth:`RunFolder.of`).
        hint: the weights to restore (default: the phase's ``restore_hint``, :meth:`RestoreHint.parse`).

    Attributes:
        iteration: optimizer steps taken. next_batch: the training batch to draw next.
        run_folder: where the phase writes, and its checkpoints.
        save_path: ``<output_root>/<dataset_name>/<model>/<save_name>`` (``run_folder.save_path``).
        checkpoint: the checkpoint the weights are from (restored or just saved; ``None``: untrained).
        config_source: the config's file (``<dict>`` for one in memory), recorded with the result tables.
    """

    config_source = "<dict>"

    def __init__(self, cfgs: Mapping[str, Any], training: bool, *, folder: RunFolder | None = None,
                 hint: RestoreHint | None = None):
        super().__init__()
        self.msg_mgr = get_msg_mgr()
        self.cfgs = cfgs
        self.context = get_context()
        self.device = self.context.device
        self.iteration = 0
        self.next_batch = 0
        self.checkpoint: Path | None = None
        self._repeated = self._sampled = 0  # sequences shorter than the clip, of those sampled, since the last log
        self.engine_section = "trainer_cfg" if training else "evaluator_cfg"
        self.engine_cfg = cfgs[self.engine_section]
        self.run_folder = folder or RunFolder.of(cfgs, training)
        self.save_path = self.run_folder.save_path
        self.seed = int(cfgs["engine_cfg"]["seed"])
        self.enable_float16 = bool(self.engine_cfg.get("enable_float16")) and self.device.type == "cuda"
        if self.engine_cfg.get("enable_float16") and not self.enable_float16:
            self.msg_mgr.log_info("enable_float16 is ignored on CPU (mixed precision runs on CUDA only)")

        torch.manual_seed(self.seed)  # the same initial parameters on every rank
        self.build_network(cfgs["model_cfg"])
        self.init_parameters()
        if training:
            self.trainer_trfs = get_transform(cfgs["trainer_cfg"].get("transform"), "trainer_cfg.transform")
            self.train_loader = self.get_loader(cfgs["data_cfg"], train=True)
        if not training or self.engine_cfg.get("with_test"):
            self.evaluator_trfs = get_transform(cfgs["evaluator_cfg"].get("transform"), "evaluator_cfg.transform")
            self.test_loader = self.get_loader(cfgs["data_cfg"], train=False)
        if training:
            self._convert_sync_bn()
            self.loss_aggregator = LossAggregator(cfgs["loss_cfg"])
            self.nonfinite = NonFiniteGuard(self.engine_cfg, self.context)
        self.to(self.device)
        if training:
            self.optimizer = self.get_optimizer(cfgs["optimizer_cfg"])
            self.scheduler = self.get_scheduler(cfgs["scheduler_cfg"])
            self.scaler = torch.amp.GradScaler("cuda", enabled=self.enable_float16)
        self.train(training)
        hint = hint or RestoreHint.parse(self.engine_cfg.get("restore_hint", 0))
        if hint.restores:
            self._restore(hint)
        elif not training:
            self.msg_mgr.log_warning("evaluator_cfg.restore_hint is 0: testing the untrained network")

    # ---- building -------------------------------------------------------------------------------------

    def build_network(self, model_cfg: Mapping[str, Any]) -> None:
        """Build the network from ``model_cfg`` (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_network")

    def forward(self, inputs: tuple) -> dict[str, Any]:
        """Run the network on OpenGait's input tuple (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    @property
    def network(self) -> nn.Module:
        """The network the host drives (the host itself here; :class:`~opengait_local3d.engine.host.NetworkHost`
        binds one as ``self.net``)."""
        return self

    def pictures(self) -> dict[str, Any]:
        """The hook the trainer calls on rank 0 after each checkpoint: ``image/...`` summaries to log to
        tensorboard (none here; :class:`~opengait_local3d.engine.host.NetworkHost` draws its network's parts)."""
        return {}

    def init_parameters(self) -> None:
        """OpenGait's initialisation (Xavier-uniform convs and linears, zero biases, BN weights ~ N(1, 0.02)),
        then each submodule's own ``init_parameters``."""
        opengait_init(self)

    def get_loader(self, data_cfg: Mapping[str, Any], train: bool = True) -> torch.utils.data.DataLoader:
        """The training loader (endless triplet batches) or the test loader (every sequence once)."""
        where = "trainer_cfg.sampler" if train else "evaluator_cfg.sampler"
        sampler_cfg = self.cfgs["trainer_cfg" if train else "evaluator_cfg"].get("sampler")
        if not isinstance(sampler_cfg, Mapping):
            raise ConfigError(f"{where}: missing (a mapping with type, batch_size and sample_type)")
        num_workers = integer_at_least(data_cfg.get("num_workers", 1), 0, "data_cfg.num_workers", ConfigError)
        dataset = GaitDataset(data_cfg, train)
        section = "trainer_cfg" if train else "evaluator_cfg"
        check_transforms(self.trainer_trfs if train else self.evaluator_trfs, dataset.frame_sizes,
                         f"{section}.transform")
        collate = CollateFn(dataset.label_set, sampler_cfg, where)
        sampler = SAMPLERS.build(sampler_cfg, where, dataset=dataset, seed=self.seed, rank=self.context.rank,
                                 world_size=self.context.world_size)
        if train:
            _check_clip_length(dataset, collate, where)
        return torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers,
                                           pin_memory=self.device.type == "cuda", worker_init_fn=ignore_interrupts)

    def check_test_set(self) -> None:
        """Raise :class:`DataError` if the test set lacks what the configured evaluation reads (its pre-check of
        the types and views); run before extracting any feature, so a long inference never ends in that error."""
        dataset = self.test_loader.dataset
        try:
            pre_check(self.cfgs["evaluator_cfg"], self.test_dataset_name, dataset.types_list, dataset.views_list)
        except ConfigError:
            raise
        except ValueError as err:
            raise DataError(f"{dataset.root}: {err}") from None

    @property
    def test_dataset_name(self) -> str:
        data_cfg = self.cfgs["data_cfg"]
        return str(data_cfg.get("test_dataset_name") or data_cfg["dataset_name"])

    def get_optimizer(self, optimizer_cfg: Mapping[str, Any]) -> torch.optim.Optimizer:
        self.msg_mgr.log_info(f"optimizer_cfg: {dict(optimizer_cfg)}")
        if "lr" not in optimizer_cfg:
            raise ConfigError("optimizer_cfg.lr: missing; set the learning rate (e.g. lr: 1.0e-4)")
        # Modules with an lr_scale (the 3D local blocks' localization) get their own group.
        params = parameter_groups(self, optimizer_cfg["lr"])
        return OPTIMIZERS.build(optimizer_cfg, "optimizer_cfg", params=params)

    def get_scheduler(self, scheduler_cfg: Mapping[str, Any]) -> torch.optim.lr_scheduler.LRScheduler:
        self.msg_mgr.log_info(f"scheduler_cfg: {dict(scheduler_cfg)}")
        return SCHEDULERS.build(scheduler_cfg, "scheduler_cfg", optimizer=self.optimizer)

    def _convert_sync_bn(self) -> None:
        if not self.cfgs["trainer_cfg"].get("sync_BN"):
            return
        if self.context.distributed and self.device.type == "cuda":
            nn.SyncBatchNorm.convert_sync_batchnorm(self)
        else:
            self.msg_mgr.log_info("sync_BN is ignored: it needs several CUDA processes")

    def fix_BN(self) -> None:
        """Keep every BatchNorm in eval mode (frozen statistics)."""
        for module in self.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()

    # ---- checkpoints --------------------------------------------------------------------------------------

    def save_ckpt(self, iteration: int) -> None:
        """Rank 0 writes ``checkpoints/<save_name>-<iteration:05d>.pt`` atomically (with its sidecar), then keeps
        only the newest ``keep_last`` (0: all). Every rank calls it: if the save failed, every rank raises.

        Raises:
            OutputError: the file system refused the checkpoint (on rank 0 the message says how much space it needs).
        """
        failure = None
        if self.context.is_main:
            try:
                self._write_ckpt(iteration)
            except OutputError as err:
                failure = err
        if any_rank(failure is not None, self.context):
            raise failure or OutputError(f"rank 0 could not save the checkpoint of iteration {iteration} (its "
                                         "message says why); the earlier checkpoints are intact")

    def _write_ckpt(self, iteration: int) -> None:
        state = {
            "model": self.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_parameters": parameter_names(self, self.optimizer),
            "scheduler": self.scheduler.state_dict(),
            "iteration": iteration,
            "sampler": {"next_batch": self.next_batch, "seed": self.seed, "world_size": self.context.world_size},
            "scaler": self.scaler.state_dict(),
            "model_cfg": dict(self.cfgs["model_cfg"]),
        }
        path = self.run_folder.checkpoint(iteration)
        save_checkpoint(state, path)
        self.checkpoint = path
        self.msg_mgr.log_info(f"Saved {path}")
        for removed in prune(self.save_path, self.run_folder.save_name, int(self.engine_cfg.get("keep_last", 0))):
            self.msg_mgr.log_info(f"Removed {removed} (trainer_cfg.keep_last: {self.engine_cfg['keep_last']})")

    def resume_ckpt(self, restore_hint: int | str) -> None:
        """Restore from iteration ``restore_hint`` (int) of this run, or from a checkpoint path (str).

        As in OpenGait, a path restores the weights (and optimizer/scheduler when training) and starts
        counting iterations at 0; an iteration resumes the run, its sampling included.
        """
        self._restore(RestoreHint.parse(restore_hint))

    def _restore(self, hint: RestoreHint) -> None:
        if hint.path is not None:
            self._load_ckpt(hint.path, resume=False)
        else:
            self._load_ckpt(self.run_folder.checkpoint(hint.iteration), resume=True)

    def _load_ckpt(self, path: Any, resume: bool) -> None:
        strict = bool(self.engine_cfg.get("restore_ckpt_strict", True))
        checkpoint, result = load_weights(self, path, strict=strict, model_cfg=self.cfgs["model_cfg"],
                                          map_location=self.device)
        if not strict:
            self.msg_mgr.log_info(f"Warm start (restore_ckpt_strict false) from {path}: "
                                  f"{describe_warm_start(len(self.state_dict()), result.missing_keys)}")
        self.checkpoint = Path(path)
        if resume:
            self.iteration = int(checkpoint.get("iteration", 0))
        if self.training:
            self._restore_training_state(checkpoint, path, resume, warm_start=not (strict or resume))
        self.msg_mgr.log_info(f"Restored parameters from {path}")

    def _restore_training_state(self, checkpoint: Mapping[str, Any], path: Any, resume: bool,
                                warm_start: bool) -> None:
        """Optimizer, scheduler, scaler and (``resume``) sampling position from ``checkpoint``. In a ``warm_start``
        (a non-strict restore: the network may have new parameters and groups) the optimizer's state is carried
        parameter by parameter, by name (:func:`~.optimizer_state.carry_state`)."""
        for key, reset, target in (("optimizer", "optimizer_reset", self.optimizer),
                                   ("scheduler", "scheduler_reset", self.scheduler)):
            if self.engine_cfg.get(reset) or key not in checkpoint:
                self.msg_mgr.log_warning(f"{path}: {key} state not restored")
            elif key == "optimizer" and warm_start:
                carried, total = carry_state(self, self.optimizer, checkpoint[key],
                                             checkpoint.get("optimizer_parameters"), path)
                self.msg_mgr.log_info(f"{path}: optimizer state carried by name for {carried} of {total} parameters; "
                                      "the others start fresh")
            else:
                target.load_state_dict(checkpoint[key])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        if resume:
            sampler = checkpoint.get("sampler", {})
            self.next_batch = int(sampler.get("next_batch", self.iteration))
            saved = (sampler.get("seed", self.seed), sampler.get("world_size", self.context.world_size))
            if saved != (self.seed, self.context.world_size):
                self.msg_mgr.log_warning(f"{path}: saved with seed {saved[0]} on {saved[1]} processes; resuming "
                                         f"with seed {self.seed} on {self.context.world_size} samples differently")

    # ---- steps ----------------------------------------------------------------------------------------------

    def inputs_pretreament(self, inputs: Batch) -> tuple:
        """A collated :class:`Batch` -> OpenGait's ``(ipts, labs, typs, vies, seqL)`` on the device.

        Transforms run here on the whole batch; random ones draw from the batch's seed.
        """
        transforms = self.trainer_trfs if self.training else self.evaluator_trfs
        transform_seed = int(np.random.SeedSequence([inputs.seed, 1]).generate_state(1)[0])
        generator = torch.Generator().manual_seed(transform_seed)
        seqL = None if inputs.seqL is None else torch.from_numpy(inputs.seqL).to(self.device).int()
        non_blocking = self.device.type == "cuda"
        # uint8 to the device (4x fewer bytes than floats); the transforms cut, divide and flip there
        ipts = [transform(seqs.to(self.device, non_blocking=non_blocking), seqL, generator).float()
                for transform, seqs in zip(transforms, inputs.seqs)]
        labs = torch.from_numpy(inputs.labels).to(self.device)
        return ipts, labs, inputs.types, inputs.views, seqL

    def train_step(self, loss_sum: torch.Tensor) -> bool:
        """Backward, optimizer and scheduler step; ``False`` when AMP skipped the step (inf/NaN gradients)."""
        self.optimizer.zero_grad(set_to_none=True)
        if loss_sum <= 1e-9:
            self.msg_mgr.log_warning("Find the loss sum less than 1e-9 but the training process will continue!")
        self.scaler.scale(loss_sum).backward()
        self.scaler.step(self.optimizer)
        scale = self.scaler.get_scale()
        self.scaler.update()
        if self.enable_float16 and scale != self.scaler.get_scale():
            self.msg_mgr.log_debug(f"Training step skipped by the gradient scaler (scale {scale})")
            return False
        self.iteration += 1
        self.scheduler.step()
        return True

    def inference(self, rank: int) -> dict[str, np.ndarray] | None:
        """Every test sequence's ``inference_feat``, in dataset order, on rank 0 (``None`` elsewhere).

        Each rank runs its share of the test loader without gradients (no collective per batch, so ranks may
        hold different numbers of batches); rank 0 gathers the shares and orders them by dataset index.
        """
        local: dict[str, list[np.ndarray]] = {}
        indices = []
        loader = self.test_loader
        with self.msg_mgr.progress(len(loader.dataset), "Transforming") as bar, torch.no_grad():
            for batch in loader:
                ipts = self.inputs_pretreament(batch)
                with torch.autocast(self.device.type, enabled=self.enable_float16):
                    feat = self.forward(ipts)["inference_feat"]
                for key, value in feat.items():
                    local.setdefault(key, []).append(value.float().cpu().numpy())
                indices.append(batch.indices)
                bar.update(len(batch.indices))
        with self._collectives("testing"):
            shards = gather_to_main((np.concatenate(indices) if indices else np.zeros(0, np.int64),
                                     {k: np.concatenate(v) for k, v in local.items()}))
        if shards is None:
            return None
        order = np.argsort(np.concatenate([ind for ind, _ in shards]))
        if len(order) != len(loader.dataset):
            raise RuntimeError(f"gathered {len(order)} features for {len(loader.dataset)} test sequences")
        keys = next(feats for _, feats in shards if feats).keys()
        return {k: np.concatenate([feats[k] for _, feats in shards if feats])[order] for k in keys}

    # ---- schedules ----------------------------------------------------------------------------------------

    @staticmethod
    def run_train(model: BaseModel) -> None:
        """Train until ``total_iter``, saving (and testing if ``with_test``) every ``save_iter`` and at the end.

        Ctrl-C or SIGTERM: the current step finishes, a checkpoint is saved, then ``KeyboardInterrupt``.
        """
        total_iter = int(model.engine_cfg["total_iter"])
        if model.engine_cfg.get("with_test"):
            model.check_test_set()
        if model.iteration >= total_iter:
            model.msg_mgr.log_info(f"Iteration {model.iteration} >= total_iter {total_iter}: nothing to train")
            return
        forward = model._training_forward()
        model.watch = TrainingWatch(model.network, model.loss_aggregator.losses, model.msg_mgr.log_warning)
        model.train_loader.batch_sampler.start_batch = model.next_batch
        with model.msg_mgr.progress(total_iter, "Training", initial=model.iteration) as bar, StopRequest() as stop, \
                model._collectives("training"):
            for batch in model.train_loader:
                if not model._train_on(batch, forward):
                    continue
                bar.update(1)
                saving = model.iteration % model.engine_cfg["save_iter"] == 0 or model.iteration >= total_iter
                if saving:
                    model._save_and_test()
                if stop.agreed(model.context):
                    model.msg_mgr.log_warning(f"Interrupted at iteration {model.iteration}")
                    if not saving:
                        model.save_ckpt(model.iteration)
                    raise KeyboardInterrupt
                if model.iteration >= total_iter:
                    break

    def _train_on(self, batch: Batch, forward: Callable[[tuple], dict[str, Any]]) -> bool:
        """One training step on ``batch`` with its own seed; ``False`` if AMP skipped it."""
        self.next_batch = batch.batch_index + 1
        torch.manual_seed(int(np.random.SeedSequence([batch.seed, 2]).generate_state(1)[0]))  # e.g. dropout
        ipts = self.inputs_pretreament(batch)
        with torch.autocast(self.device.type, enabled=self.enable_float16):
            retval = forward(ipts)
        training_feat, visual_summary = retval["training_feat"], retval["visual_summary"]
        loss_sum, loss_info = self.loss_aggregator(training_feat)
        self._repeated += batch.short_count
        self._sampled += len(batch.indices)
        bad_terms = self.nonfinite.bad_terms(self.loss_aggregator.terms, loss_sum)
        if bad_terms:
            stop, message = self.nonfinite.verdict(self.iteration + 1, batch.batch_index, bad_terms)
            if stop:
                raise self._fault(message, " once the cause is removed (a loss_term_weight, the learning rate, the "
                                           "data), or set trainer_cfg.nonfinite: skip to skip such batches")
            self.msg_mgr.log_warning(message)
            return False
        if not self.train_step(loss_sum):
            return False
        visual_summary.update(loss_info)
        visual_summary["scalar/learning_rate"] = self.optimizer.param_groups[0]["lr"]
        self.msg_mgr.train_step(loss_info, visual_summary)
        if self.iteration % self.engine_cfg["log_iter"] == 0:
            self.watch.check(self.iteration, loss_info)
            if self._repeated:
                self.msg_mgr.log_warning(f"{self._repeated} of the {self._sampled} sequences sampled since the last "
                                         f"report were shorter than the clip and were repeated")
            self._repeated = self._sampled = 0
        return True

    def _fault(self, message: str, advice: str = "") -> FaultError:
        """The error that ends a training on a fault: ``message``, then the newest good checkpoint of the run and how
        to resume it, then ``advice``."""
        hint = resume_hint(self.save_path, self.run_folder.save_name)
        return FaultError(f"{message}. {hint}{advice}")

    @contextlib.contextmanager
    def _collectives(self, during: str) -> Iterator[None]:
        """Turn a collective that timed out (or lost its peer) inside the block into a :class:`FaultError`;
        ``during`` says where (``training``: the iteration in progress; else the test phase's gather)."""
        try:
            yield
        except RuntimeError as err:
            if not collective_failure(err):
                raise
            timeout = self.engine_cfg.get("collective_timeout", DEFAULT_TIMEOUT)
            where = f"in training iteration {self.iteration + 1}" if during == "training" else \
                f"in the test phase's gather (weights of iteration {self.iteration})"
            message = (f"a collective timed out or lost a rank {where}: another rank stopped answering for {timeout} s "
                       f"({self.engine_section}.collective_timeout) or died ({str(err).splitlines()[0]})")
            if self.engine_section == "evaluator_cfg":
                raise FaultError(f"{message}; no result files were written: run the test again") from None
            raise self._fault(message) from None

    def _save_and_test(self) -> None:
        self.save_ckpt(self.iteration)
        if self.context.is_main:
            self.msg_mgr.write_to_tensorboard(self.pictures())
        if self.engine_cfg.get("with_test"):
            self.msg_mgr.log_info("Running test...")
            self.msg_mgr.write_to_tensorboard(BaseModel.run_test(self))
            self.msg_mgr.reset_time()

    @staticmethod
    def run_test(model: BaseModel) -> dict[str, Any]:
        """Extract the test features and evaluate them on rank 0 (``{}`` on the other ranks)."""
        evaluator_cfg = model.cfgs["evaluator_cfg"]
        model.check_test_set()
        features = model.test_features()
        if features is None:
            return {}
        dataset = model.test_loader.dataset
        data = {**features, "labels": dataset.label_list, "types": dataset.types_list,
                "views": dataset.views_list}
        return evaluate(evaluator_cfg, data, model.test_dataset_name, str(model.save_path), model.provenance())

    def test_features(self) -> dict[str, np.ndarray] | None:
        """:meth:`inference` in eval mode, on rank 0 (``None`` elsewhere); the model's mode comes back after it
        (``fix_BN`` kept in a training)."""
        was_training = self.training
        self.eval()
        try:
            return self.inference(self.context.rank)
        finally:
            self.train(was_training)
            if was_training and self.cfgs["trainer_cfg"].get("fix_BN"):
                self.fix_BN()

    def provenance(self) -> Provenance:
        """What the test features come from: checkpoint, iteration, config (file and hash) and now."""
        digest = config_digest(self.cfgs)
        return Provenance(None if self.checkpoint is None else str(self.checkpoint), self.iteration,
                          f"{self.config_source} (merged config sha256 {digest[:12]})",
                          time.strftime("%Y-%m-%d %H:%M:%S"))

    def _training_forward(self) -> Callable[[tuple], dict[str, Any]]:
        """The forward to train with: DDP around this model under torchrun, else the model itself."""
        if self.cfgs["trainer_cfg"].get("fix_BN"):
            self.fix_BN()
        if not self.context.distributed:
            return self
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self, device_ids=device_ids, find_unused_parameters=bool(
            self.cfgs["trainer_cfg"].get("find_unused_parameters", False)))


def _check_clip_length(dataset: GaitDataset, collate: CollateFn, where: str) -> None:
    """A clip longer than every sequence is a config error; shorter sequences are repeated."""
    clip = collate.clip_length
    if clip is None:
        return
    longest, path = dataset.longest_sequence()
    if clip > longest:
        key = "frames_num_fixed" if collate.frames == "fixed" else "frames_num_min"
        raise ConfigError(f"{where}.{key}: clips of {clip} frames are longer than every training sequence "
                          f"(the longest, {path}, has {longest})")
