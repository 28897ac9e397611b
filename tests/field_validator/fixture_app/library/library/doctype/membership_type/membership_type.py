from payments.utils import PaymentMixin

from frappe.model.document import Document


class MembershipType(Document, PaymentMixin):
	def validate(self):
		print(self.type_name)  # ok
		print(self.payment_gateway_account)  # ok: may come from PaymentMixin, which cannot be read
