"""An order and the checks it must pass before it is confirmed."""

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum


class OrderState(Enum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


@dataclass
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal

    @property
    def total(self):
        return self.unit_price * self.quantity


@dataclass
class Order:
    number: str
    customer_code: str
    lines: list = field(default_factory=list)
    state: OrderState = OrderState.DRAFT

    @property
    def total(self):
        return sum((line.total for line in self.lines), Decimal("0"))

    def confirm(self, max_lines=200):
        if self.state is not OrderState.DRAFT:
            raise ValueError(f"order {self.number} is already {self.state.value}")
        if not self.lines:
            raise ValueError(f"order {self.number} has no lines")
        if len(self.lines) > max_lines:
            raise ValueError(f"order {self.number} has more than {max_lines} lines")
        self.state = OrderState.CONFIRMED
