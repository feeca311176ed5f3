delete from core.customer_movements where observed_on >= $window_start
