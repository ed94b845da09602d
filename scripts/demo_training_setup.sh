# Sourced by train_demo_weights.sh and train_hardened_weights.sh: the shared set-up.
# Needs PYTHON, WORK, TRAIN_VOLUMES, VAL_VOLUMES, SLICES, DATA_SEED, SYNTH_ARGS, NPROC, MAX_STEPS;
# sets DATA (the synthetic set, written when absent), LAUNCH (advrecon, under torchrun when
# NPROC > 1) and EXTRA (--max-steps-per-epoch for smoke runs).

DATA="$WORK/data"
if [ ! -d "$DATA/train" ] || [ ! -d "$DATA/val" ]; then
    # shellcheck disable=SC2086  # SYNTH_ARGS is a list of options
    "$PYTHON" -m advrecon data synth "$DATA" --volumes "$TRAIN_VOLUMES" \
        --val-volumes "$VAL_VOLUMES" --slices "$SLICES" --seed "$DATA_SEED" --overwrite $SYNTH_ARGS
fi

if [ "$NPROC" -gt 1 ]; then
    LAUNCH=("$PYTHON" -m torch.distributed.run --standalone --nproc_per_node="$NPROC" -m advrecon)
else
    LAUNCH=("$PYTHON" -m advrecon)
fi
EXTRA=()
[ -n "$MAX_STEPS" ] && EXTRA+=(--max-steps-per-epoch "$MAX_STEPS")
