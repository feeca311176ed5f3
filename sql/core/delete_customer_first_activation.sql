delete from core.customer_first_activation where first_activation_date >= $window_start
