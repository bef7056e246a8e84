"""LDAP directory connector: the ldap3 client (`client`) and the pure sync planner (`sync`)."""
