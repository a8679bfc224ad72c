"""The reporting line of an employee, walked up to the top."""


def reporting_line(employees, employee_id):
    line, seen = [], set()
    current = employees[employee_id].get("manager")
    while current is not None:
        if current in seen:
            raise ValueError(f"management loop at {current}")
        seen.add(current)
        line.append(current)
        current = employees[current].get("manager")
    return line
