# microprop: simulate microstructures, assemble datasets, compute features, train
# surrogate models and produce the tables and figures of Nguyen et al.
# Default config: config/config.yaml (workstation scale). Paper scale:
#   snakemake --cores all --configfile config/paper.yaml


from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/simulate.smk"
include: "rules/assemble.smk"
include: "rules/features.smk"
include: "rules/models.smk"
include: "rules/studies.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        final_targets(),
