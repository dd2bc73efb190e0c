"""The local cloud: the synthesized CDK app deployed into moto in this process (see cloud.py and adapters/)."""
