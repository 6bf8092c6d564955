"""What a run builds, as plain functions of the filled config, in three parts and the jobs' settings:

- `layout`: where every file of a run lives (the one place that spells a result path);
- `grid`: what is built: students and their names, the evaluated models, each pool's filters and the scores they
  read (`rows`: the result matrix's rows of that grid);
- `targets`: the file lists that rules and `rule all` ask for;
- `settings`: the settings each kind of job runs with (decoding, selection, training, validation);
- `hub`: what a config takes from the Hugging Face hub (`snakemake fetch`, the offline check).

`rules/*.smk` only turn these into rules.
"""
