app_name = "verenigingen"
app_title = "Verenigingen"
app_publisher = "Verenigingen maintainers"
app_description = "Association management with a measured performance and security layer"
app_email = "maintainers@verenigingen.invalid"
app_license = "mit"
required_apps = ["frappe"]

# Installation
# ------------
after_install = "verenigingen.install.after_install"
# the index catalogs: present after every migrate (site config verenigingen_auto_index=0 turns it off)
after_migrate = ["verenigingen.indexes.after_migrate"]
