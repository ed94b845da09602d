#!/usr/bin/env bash
# Reproduce the hardened demo weights src/advrecon/weights/unet_demo_4x_{adversarial,jitter}.safetensors.
#
# 1. writes (when absent) the synthetic knee-like dataset of scripts/train_demo_weights.sh, same
#    seed and settings: advrecon data synth "$WORK/data" --volumes 8 --val-volumes 2 --slices 12;
# 2. fine-tunes the shipped standard U-Net 4x (src/advrecon/weights/unet_demo_4x.safetensors) with
#    `advrecon train --init ... --robust REMEDY` for each remedy in $REMEDIES and ships the LAST
#    epoch (the best-validation checkpoint is chosen on clean SSIM, which would favour the least
#    robust epoch), stored as float16 like the other demo weights.
#
# Recipes (docs/robust_training.md):
#   adversarial: k-space noise adversary, eta $ADV_ETA % of each coil's norm, $ADV_STEPS APGD
#                passes (MSE in a random box per slice), clean-loss weight $ADV_MIX;
#   jitter:      Gaussian noise on the measured samples at eta $JITTER_ETA %;
#   fnaf:        (not shipped by default) worst-shaped bright disc, contrast $FNAF_ETA % of the box mean.
# Cost on 1 CPU thread (96 slices): a standard epoch ~16 s, jitter ~17 s, adversarial (4 passes)
# ~100 s; the shipped pair took ~16 min (adversarial) and ~4 min (jitter) on 2 busy cores.
#
# Every setting can be overridden from the environment, e.g. a quick smoke run:
#   WORK=/tmp/hard WEIGHTS_DIR=/tmp/hard/w TRAIN_VOLUMES=2 VAL_VOLUMES=1 SLICES=2 EPOCHS=1 \
#   MAX_STEPS=2 ADV_STEPS=1 scripts/train_hardened_weights.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
WORK="${WORK:-$ROOT/build/demo_training}"        # dataset + run folders (not shipped)
WEIGHTS_DIR="${WEIGHTS_DIR:-$ROOT/src/advrecon/weights}"
INIT="${INIT:-$ROOT/src/advrecon/weights/unet_demo_4x.safetensors}"
DATA_SEED="${DATA_SEED:-0}"
TRAIN_VOLUMES="${TRAIN_VOLUMES:-8}"
VAL_VOLUMES="${VAL_VOLUMES:-2}"
SLICES="${SLICES:-12}"
SYNTH_ARGS="${SYNTH_ARGS:-}"
SEED="${SEED:-0}"
EPOCHS="${EPOCHS:-12}"
LR="${LR:-5e-4}"                                 # half the U-Net's from-scratch rate (fine-tune)
REMEDIES="${REMEDIES:-adversarial jitter}"
ADV_ETA="${ADV_ETA:-1.5}"
ADV_STEPS="${ADV_STEPS:-4}"
ADV_MIX="${ADV_MIX:-0.5}"
JITTER_ETA="${JITTER_ETA:-10}"                 # at 1.5 % the noise changed nothing measurable
FNAF_ETA="${FNAF_ETA:-25}"
MAX_STEPS="${MAX_STEPS:-}"
DEVICE="${DEVICE:-auto}"
NPROC="${NPROC:-1}"

# shellcheck source=scripts/demo_training_setup.sh
source "$ROOT/scripts/demo_training_setup.sh"   # DATA (written when absent), LAUNCH, EXTRA
lr_step=$((EPOCHS * 4 / 5 > 0 ? EPOCHS * 4 / 5 : 1))   # one 10x decay for the last fifth

for remedy in $REMEDIES; do
    case "$remedy" in
        adversarial) recipe=(--robust adversarial --robust-eta "$ADV_ETA" --robust-steps "$ADV_STEPS"
                             --robust-mix "$ADV_MIX") ;;
        jitter) recipe=(--robust jitter --robust-eta "$JITTER_ETA") ;;
        fnaf) recipe=(--robust fnaf --robust-eta "$FNAF_ETA") ;;
        *) echo "unknown remedy $remedy" >&2; exit 2 ;;
    esac
    name="unet_demo_4x_$remedy"
    echo "== training $name"
    "${LAUNCH[@]}" train --arch unet --preset demo --acceleration 4 --mask-type random \
        --train "$DATA/train" --val "$DATA/val" --out "$WORK/runs/$name" --init "$INIT" \
        --epochs "$EPOCHS" --lr "$LR" --lr-step-size "$lr_step" --seed "$SEED" \
        --device "$DEVICE" "${recipe[@]}" "${EXTRA[@]}"
    mkdir -p "$WEIGHTS_DIR"
    # ship the last epoch, float16 storage (loading casts back to float32)
    "$PYTHON" -c 'import sys; from advrecon.models.checkpoints import export_checkpoint as e; e(sys.argv[1], sys.argv[2])' \
        "$WORK/runs/$name/last.safetensors" "$WEIGHTS_DIR/$name.safetensors"
done
echo "hardened weights written to $WEIGHTS_DIR"
