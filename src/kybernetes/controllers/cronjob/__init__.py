"""The CronJob controller package: cron schedules, scheduling rules, and the controller."""

from kybernetes.controllers.cronjob.controller import CronJobController

__all__ = ["CronJobController"]
