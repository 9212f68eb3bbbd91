"""The LightningModules of the tasks (:mod:`equilens.tasks`), one file each, on a shared base."""
