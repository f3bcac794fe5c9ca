"""Semantics of single kinds that more than one component needs: Events, CronJob schedules, HPA
versions, quota arithmetic, volume matching, node selectors, APIServices, zero statuses.
"""
