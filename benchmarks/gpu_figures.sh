#!/usr/bin/env bash
# The GPU figures in the READMEs, in one go (generated images: no internet or weights needed):
#   bash benchmarks/gpu_figures.sh OUTPUT_DIR [OVERRIDES...]
# 1. the data path against the model alone: inception_v4 on horse-or-human-like 300 px PNGs, batch 128;
# 2. the horse_human_inception_v3 recipe as written (batch 32, its augmentation);
# 3. the cifar10_inception_resnet_v2 recipe as written (32 px images resized to 299, batch 300);
# 4. the mission's command shape: inception_v4 on 300 px PNGs at batch 32 (predict.py at batch 256 too);
# 5. compile=true: how long the first training step takes (the log's "torch.compile:" line);
# 6. row 1's data path and training with every lever for small data on (colour, policy, erasing, Mixup/CutMix,
#    EMA, class weights), against row 1 (issue 19's target: under 10% of the end-to-end rate);
# 7. other tested backbones (resnet50, convnext_tiny, vit_base_patch16_224) at 224 px, batch 128;
# 8. data=stream over loopback HTTP against the decode-once cache and the folder decoding at every access, loader
#    alone, 4,096 JPEGs, 8 and 15 workers (benchmarks/streaming.py; OVERRIDES do not apply).
# Every throughput row also counts host syncs per training step. OVERRIDES go to every command (a small CPU
# check: bench.steps=1 data.image_size=75 ...); STEPS="2 3" runs some of them. The recipes run in bf16: with random weights (no internet there) a frozen backbone's
# BatchNorm, in inference mode with its initial statistics, overflows fp16 at the first batch.
set -euo pipefail
steps=${STEPS:-1 2 3 4 5 6 7 8}
out=${1:?output folder}; shift
mkdir -p "$out"
python -c "import torch, timm, lightning; print('versions: torch', torch.__version__, 'cuda', torch.version.cuda, \
'timm', timm.__version__, 'lightning', lightning.__version__, 'device', \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
common=(backbone.pretrained=false data=shapes "paths.data_dir=$out/data" data.num_workers=15 ~logger)
levers=(data.augment.brightness=0.4 data.augment.contrast=0.4 data.augment.saturation=0.4 data.augment.hue=0.1
    data.augment.greyscale=0.2 data.augment.policy=trivial data.augment.erase=0.25 mixup.mixup_alpha=0.2
    mixup.cutmix_alpha=1.0 callbacks=ema loss.class_weights=balanced)
[[ " $steps " == *" 1 "* ]] && python benchmarks/throughput.py backbone=inception_v4 "${common[@]}" data.source.image_size=300 \
    data.source.train_per_class=512 data.batch_size=128 "bench.output=$out/data_path_v4.json" \
    "hydra.run.dir=$out/run-data-path" "$@"
[[ " $steps " == *" 2 "* ]] && python benchmarks/throughput.py experiment=horse_human_inception_v3 \
    "${common[@]}" trainer.precision=bf16-mixed data.source.image_size=300 \
    data.source.train_per_class=512 bench.measure=[model,data,lightning] bench.whole_run=false \
    "bench.output=$out/recipe_v3.json" "hydra.run.dir=$out/run-recipe-v3" "$@"
[[ " $steps " == *" 3 "* ]] && python benchmarks/throughput.py experiment=cifar10_inception_resnet_v2 \
    "${common[@]}" trainer.precision=bf16-mixed data.source.image_size=32 \
    data.source.train_per_class=1000 bench.steps=10 bench.measure=[model,data,lightning] bench.whole_run=false \
    "bench.output=$out/recipe_irv2.json" "hydra.run.dir=$out/run-recipe-irv2" "$@"
[[ " $steps " == *" 4 "* ]] && python benchmarks/throughput.py backbone=inception_v4 "${common[@]}" \
    data.source.image_size=300 data.source.train_per_class=512 data.batch_size=32 bench.whole_run=false \
    "bench.output=$out/mission_v4_batch32.json" "hydra.run.dir=$out/run-mission" "$@"
[[ " $steps " == *" 5 "* ]] && python benchmarks/throughput.py backbone=inception_v4 "${common[@]}" compile=true \
    data.source.image_size=300 data.source.train_per_class=512 data.batch_size=32 'bench.phases=[]' \
    "bench.output=$out/compile_v4.json" "hydra.run.dir=$out/run-compile" "$@" 2>&1 | tee "$out/compile.log" \
    | grep -E "torch.compile|whole run"
[[ " $steps " == *" 6 "* ]] && python benchmarks/throughput.py backbone=inception_v4 "${common[@]}" "${levers[@]}" \
    data.source.image_size=300 data.source.train_per_class=512 data.batch_size=128 \
    bench.measure=[data,lightning,syncs] bench.whole_run=false "bench.output=$out/levers_v4.json" \
    "hydra.run.dir=$out/run-levers" "$@"
if [[ " $steps " == *" 7 "* ]]; then
  for backbone in resnet50 convnext_tiny vit_base_patch16_224; do
    python benchmarks/throughput.py "backbone=$backbone" "${common[@]}" trainer.precision=bf16-mixed \
      data.source.image_size=256 data.source.train_per_class=512 data.batch_size=128 \
      bench.measure=[model,data,lightning] bench.whole_run=false "bench.output=$out/backbone_$backbone.json" \
      "hydra.run.dir=$out/run-$backbone" "$@"
  done
fi
[[ " $steps " == *" 8 "* ]] && python benchmarks/streaming.py --root "$out/stream" --images 4096 --workers 8 15
exit 0
