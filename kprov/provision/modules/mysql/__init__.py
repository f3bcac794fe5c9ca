"""The community.mysql modules: mysql_db and mysql_user, and the client they share.
"""
