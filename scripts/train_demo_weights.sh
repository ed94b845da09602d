#!/usr/bin/env bash
# Reproduce the shipped demo weights src/advrecon/weights/{unet,varnet}_demo_{4,8}x.safetensors.
#
# 1. writes the synthetic knee-like dataset (fastMRI format, fixed seed) with train/ and val/
#    splits:  advrecon data synth "$WORK/data" --volumes $TRAIN_VOLUMES --val-volumes ...
# 2. trains the `demo` preset of U-Net and VarNet at 4x (center fraction 0.08) and 8x (0.04)
#    with the fastMRI recipe (`advrecon train`, seed $SEED) and exports each best-validation-SSIM
#    checkpoint into $WEIGHTS_DIR.
#
# Every setting below can be overridden from the environment, e.g. a quick smoke run:
#   WORK=/tmp/demo WEIGHTS_DIR=/tmp/demo/weights TRAIN_VOLUMES=2 VAL_VOLUMES=1 SLICES=2 \
#   EPOCHS_UNET=1 EPOCHS_VARNET=1 MAX_STEPS=2 SYNTH_ARGS="--coils 4 --kspace-shape 64,32 --recon-size 32,32" \
#   scripts/train_demo_weights.sh
# With NPROC > 1 each run uses DDP: torchrun --nproc_per_node=$NPROC -m advrecon train ...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
WORK="${WORK:-$ROOT/build/demo_training}"        # dataset + run folders (not shipped)
WEIGHTS_DIR="${WEIGHTS_DIR:-$ROOT/src/advrecon/weights}"
DATA_SEED="${DATA_SEED:-0}"                      # synthetic data seed (val uses its own stream)
TRAIN_VOLUMES="${TRAIN_VOLUMES:-8}"
VAL_VOLUMES="${VAL_VOLUMES:-2}"
SLICES="${SLICES:-12}"
SYNTH_ARGS="${SYNTH_ARGS:-}"                     # extra `advrecon data synth` options
SEED="${SEED:-0}"                                # training seed (weights, order, masks)
EPOCHS_UNET="${EPOCHS_UNET:-40}"                 # U-Net steps are ~5x cheaper than VarNet's
EPOCHS_VARNET="${EPOCHS_VARNET:-25}"
BATCH_SIZE="${BATCH_SIZE:-1}"
ACCUMULATE="${ACCUMULATE:-1}"
MAX_STEPS="${MAX_STEPS:-}"                       # cap on optimizer steps per epoch (smoke runs)
DEVICE="${DEVICE:-auto}"
NPROC="${NPROC:-1}"
ARCHS="${ARCHS:-unet varnet}"
ACCELERATIONS="${ACCELERATIONS:-4 8}"

# shellcheck source=scripts/demo_training_setup.sh
source "$ROOT/scripts/demo_training_setup.sh"   # DATA (written when absent), LAUNCH, EXTRA

for arch in $ARCHS; do
    for acc in $ACCELERATIONS; do
        name="${arch}_demo_${acc}x"
        if [ "$arch" = unet ]; then epochs=$EPOCHS_UNET; else epochs=$EPOCHS_VARNET; fi
        lr_step=$((epochs * 4 / 5 > 0 ? epochs * 4 / 5 : 1))   # one 10x decay for the last fifth
        init=()
        if [ "$arch" = varnet ] && [ "$acc" = 8 ]; then
            # VarNet at 8x (5 ACS lines) learns its sensitivity maps slowly from scratch: warm
            # start from the 4x VarNet (trained first in this loop, or by an earlier run)
            init=(--init "$WORK/runs/varnet_demo_4x/best.safetensors")
        fi
        echo "== training $name"
        "${LAUNCH[@]}" train --arch "$arch" --preset demo --acceleration "$acc" \
            --mask-type random --train "$DATA/train" --val "$DATA/val" --out "$WORK/runs/$name" \
            --epochs "$epochs" --lr-step-size "$lr_step" --batch-size "$BATCH_SIZE" \
            --accumulate "$ACCUMULATE" --seed "$SEED" --device "$DEVICE" \
            --export "$WEIGHTS_DIR/$name.safetensors" "${init[@]}" "${EXTRA[@]}"
        # ship float16 storage (a few MB in all); loading casts back to float32
        "$PYTHON" -c 'import sys; from advrecon.models.checkpoints import export_checkpoint as e; e(sys.argv[1], sys.argv[1])' "$WEIGHTS_DIR/$name.safetensors"
    done
done
echo "demo weights written to $WEIGHTS_DIR"
